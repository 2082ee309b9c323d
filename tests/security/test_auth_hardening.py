"""Issue 16, accounts and the HTTP edge: concurrent writes, request limits, CORS, key expiry,
sign-in limits. Each test is named after the defect it reproduces."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from sqlalchemy import exc, text

from tests.conftest import Account, signup
from wayline.core import security
from wayline.core.db import Database, begin_write

# --- defect 1: concurrent writes, SQLite error wrapping, hashing off the event loop -----------


async def test_sqlite_errors_are_raised_as_sqlalchemy_errors(settings):
    db = Database(settings)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO probe VALUES (1)"))
        with pytest.raises(exc.IntegrityError):
            async with db.engine.begin() as conn:
                await conn.execute(text("INSERT INTO probe VALUES (1)"))
        with pytest.raises(
            exc.OperationalError if db.dialect == "sqlite" else exc.ProgrammingError
        ):
            async with db.engine.begin() as conn:
                await conn.execute(text("SELECT * FROM no_such_table"))
    finally:
        await db.dispose()


async def test_read_then_write_transactions_do_not_fail_under_concurrency(make_settings, tmp_path):
    """Each unit of work reads the current maximum and inserts the next id: with the write lock
    taken up front none fails and none collides. SQLite's case, whatever the test database: a
    reading SQLite transaction cannot be upgraded once another writer committed ("database is
    locked"); PostgreSQL's writers rely on constraints instead (begin_write changes nothing
    there)."""
    db = Database(make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'upgrade.db'}"))
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO counter VALUES (0)"))

        async def next_id() -> None:
            async with db.sessionmaker() as session:
                await begin_write(session)
                current = (await session.execute(text("SELECT max(id) FROM counter"))).scalar_one()
                await asyncio.sleep(0.005)  # let the others interleave
                await session.execute(text("INSERT INTO counter VALUES (:id)"), {"id": current + 1})
                await session.commit()

        await asyncio.gather(*(next_id() for _ in range(16)))
        async with db.sessionmaker() as session:
            ids = (
                (await session.execute(text("SELECT id FROM counter ORDER BY id"))).scalars().all()
            )
        assert ids == list(range(17))
    finally:
        await db.dispose()


async def test_password_hashing_runs_off_the_event_loop(monkeypatch):
    threads: list[threading.Thread] = []
    real = security._hash_password

    def recording_hash(password: str) -> str:
        threads.append(threading.current_thread())
        return real(password)

    monkeypatch.setattr(security, "_hash_password", recording_hash)
    hashed = await security.hash_password("pw")
    assert await security.verify_password("pw", hashed)
    assert not await security.verify_password("other", hashed)
    assert threads and threads[0] is not threading.main_thread()


def test_parallel_signins_and_signups_never_answer_500(live_server):
    base = live_server.url
    admin = signup(httpx.Client(base_url=base), "Admin")

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            signins = [
                http.post(
                    "/api/v1/auths/signin", json={"email": admin.email, "password": admin.password}
                )
                for _ in range(8)
            ]
            signups = [
                http.post(
                    "/api/v1/auths/signup",
                    json={"name": f"U{i}", "email": f"u{i}@example.com", "password": "pw"},
                )
                for i in range(8)
            ]
            same_email = [
                http.post(
                    "/api/v1/auths/signup",
                    json={"name": "Dup", "email": "dup@example.com", "password": "pw"},
                )
                for _ in range(4)
            ]
            keys = [
                http.post(
                    "/api/v1/auths/api_keys", json={"name": f"k{i}"}, headers=admin.jwt_headers
                )
                for i in range(8)
            ]
            return list(await asyncio.gather(*signins, *signups, *same_email, *keys))

    answers = asyncio.run(run())
    statuses = [r.status_code for r in answers]
    assert all(s < 500 for s in statuses), [
        (r.status_code, r.text) for r in answers if r.status_code >= 500
    ]
    assert statuses[:16] == [200] * 16
    dup = statuses[16:20]
    assert dup.count(200) == 1 and dup.count(400) == 3, dup
    assert statuses[20:] == [200] * 8
    keys = httpx.get(base + "/api/v1/auths/api_keys", headers=admin.jwt_headers).json()
    assert len([k for k in keys if k["name"].startswith("k")]) == 8


# --- defect 4 and 7: JSON depth and request sizes -----------------------------------------------


def _nested(depth: int) -> dict:
    value: dict = {"leaf": True}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


@pytest.fixture
def gateway(make_client, gateway_settings):
    client = make_client(gateway_settings)
    return client, signup(client, "Admin")


def test_deeply_nested_json_is_refused_and_breaks_no_list(gateway):
    client, admin = gateway
    resp = client.post(
        "/api/v1/models/create",
        headers=admin.headers,
        json={
            "id": "deep",
            "name": "Deep",
            "base_model_id": "gpt-4-turbo",
            "meta": _nested(300),
            "params": {},
        },
    )
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"][0]
    assert detail["loc"][:2] == ["body", "meta"] and "32" in detail["msg"]
    listed = client.get("/api/models", headers=admin.headers)
    assert listed.status_code == 200
    assert "deep" not in {m["id"] for m in listed.json()["data"]}


def test_nesting_within_the_limit_is_accepted(gateway):
    client, admin = gateway
    resp = client.post(
        "/api/v1/models/create",
        headers=admin.headers,
        json={
            "id": "nested-ok",
            "name": "Nested",
            "base_model_id": "gpt-4-turbo",
            "meta": _nested(20),
            "params": {},
        },
    )
    assert resp.status_code == 200, resp.text
    assert client.get("/api/models", headers=admin.headers).status_code == 200


def test_oversized_body_is_refused_with_413_before_it_is_read(client):
    huge = "x" * (2 * 1024 * 1024)
    resp = client.post(
        "/api/v1/auths/signup", json={"name": "Big", "email": "big@example.com", "password": huge}
    )
    assert resp.status_code == 413
    assert "larger than" in resp.json()["detail"]
    # nothing was created: the same e-mail signs up normally afterwards
    ok = client.post(
        "/api/v1/auths/signup", json={"name": "Big", "email": "big@example.com", "password": "pw"}
    )
    assert ok.status_code == 200


def test_streamed_oversized_body_without_length_is_cut_off(live_server):
    def chunks():
        yield b'{"name": "S", "email": "s@example.com", "password": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}'

    resp = httpx.post(
        live_server.url + "/api/v1/auths/signup",
        content=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert resp.status_code == 413
    assert (
        httpx.post(
            live_server.url + "/api/v1/auths/signin",
            json={"email": "s@example.com", "password": "pw"},
        ).status_code
        == 400
    )


def test_chat_bodies_may_be_larger_than_the_default_cap(client, admin: Account):
    image = "data:image/png;base64," + "A" * (3 * 1024 * 1024)
    resp = client.post(
        "/api/chat/completions",
        headers=admin.headers,
        json={
            "model": "no-such-model",
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": image}}]}
            ],
        },
    )
    assert resp.status_code == 404  # read whole and routed; not refused for its size


def test_huge_profile_image_is_refused_and_not_stored(client, admin: Account):
    resp = client.post(
        "/api/v1/auths/update/profile",
        headers=admin.jwt_headers,
        json={"name": "Admin", "profile_image_url": "data:image/png;base64," + "A" * 300_000},
    )
    assert resp.status_code == 422
    assert (
        client.get("/api/v1/auths/", headers=admin.jwt_headers).json()["profile_image_url"]
        == "/user.png"
    )


# --- defect 6: CORS ----------------------------------------------------------------------------


def test_cors_wildcard_never_grants_credentials(client):
    resp = client.get(
        "/api/version", headers={"Origin": "https://evil.example", "Cookie": "token=x"}
    )
    assert resp.headers.get("access-control-allow-origin") == "*"
    assert "access-control-allow-credentials" not in resp.headers


def test_cors_credentials_only_for_listed_origins(make_client, make_settings):
    client = make_client(
        make_settings(CORS_ALLOW_ORIGIN="https://app.example;https://admin.example")
    )
    ok = client.get("/api/version", headers={"Origin": "https://app.example"})
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert ok.headers["access-control-allow-credentials"] == "true"
    other = client.get("/api/version", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


# --- defect 12: API-key expiry and unknown fields -----------------------------------------------


def test_api_key_expires_at_is_honoured(client, alice: Account):
    expires_at = int(time.time()) + 2
    resp = client.post(
        "/api/v1/auths/api_keys",
        headers=alice.jwt_headers,
        json={"name": "short", "expires_at": expires_at},
    )
    assert resp.status_code == 200, resp.text
    key = resp.json()
    assert key["expires_at"] == expires_at
    listed = {
        k["id"]: k for k in client.get("/api/v1/auths/api_keys", headers=alice.jwt_headers).json()
    }
    assert listed[key["id"]]["expires_at"] == expires_at
    bearer = {"Authorization": f"Bearer {key['api_key']}"}
    assert client.get("/api/v1/auths/", headers=bearer).status_code == 200
    time.sleep(max(0.0, expires_at - time.time()) + 0.2)
    assert client.get("/api/v1/auths/", headers=bearer).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"name": "k", "expires": 1},
        {"name": "k", "expiry_days": 3},
        {"name": "k", "expires_at": 1000},  # in the past
        {
            "name": "k",
            "expires_at": int(time.time()) * 1000,
        },  # milliseconds: not a plausible expiry
        {"name": "k", "expires_at": int(time.time()) + 60, "expires_in_days": 1},
    ],
)
def test_api_key_forms_refuse_what_they_would_ignore(client, alice: Account, body):
    resp = client.post("/api/v1/auths/api_keys", headers=alice.jwt_headers, json=body)
    assert resp.status_code == 422, resp.text
    assert [
        k
        for k in client.get("/api/v1/auths/api_keys", headers=alice.jwt_headers).json()
        if k["name"] == "k"
    ] == []


def test_access_changing_forms_refuse_unknown_fields(client, admin: Account, alice: Account):
    role = client.post(
        "/api/v1/users/update/role",
        headers=admin.jwt_headers,
        json={"id": alice.id, "role": "admin", "scope": "all"},
    )
    assert role.status_code == 422
    signup_resp = client.post(
        "/api/v1/auths/signup",
        json={"name": "M", "email": "m@example.com", "password": "pw", "role": "admin"},
    )
    assert signup_resp.status_code == 422
    users = client.get("/api/v1/users/", headers=admin.jwt_headers).json()["users"]
    assert {u["email"] for u in users} == {admin.email, alice.email}
    assert {u["role"] for u in users if u["id"] == alice.id} == {"user"}


# --- defect 14: sign-in limit per client address --------------------------------------------------


def test_signin_is_limited_per_client_address(make_client, make_settings):
    client = make_client(make_settings(SIGNIN_RATE_LIMIT_PER_IP=5))
    statuses = [
        client.post(
            "/api/v1/auths/signin", json={"email": f"nobody{i}@example.com", "password": "x"}
        ).status_code
        for i in range(7)
    ]
    assert statuses[:5] == [400] * 5
    assert statuses[5:] == [429, 429]


def test_forwarded_for_is_believed_only_from_trusted_proxies(live_server_factory):
    def attempts(server, forwarded_for: str) -> list[int]:
        return [
            httpx.post(
                server.url + "/api/v1/auths/signin",
                headers={"X-Forwarded-For": forwarded_for},
                json={"email": f"n{i}@example.com", "password": "x"},
            ).status_code
            for i in range(3)
        ]

    trusted = live_server_factory(SIGNIN_RATE_LIMIT_PER_IP="2", FORWARDED_ALLOW_IPS="127.0.0.1")
    assert attempts(trusted, "203.0.113.1") == [400, 400, 429]
    assert attempts(trusted, "203.0.113.2") == [400, 400, 429]  # another client, its own budget
    trusted.stop()

    untrusted = live_server_factory(SIGNIN_RATE_LIMIT_PER_IP="2", FORWARDED_ALLOW_IPS="")
    assert attempts(untrusted, "203.0.113.1") == [400, 400, 429]
    assert attempts(untrusted, "203.0.113.2") == [429, 429, 429]  # the header is not believed


# --- NUL characters (found by the stateful fuzz on PostgreSQL: 500 "invalid byte sequence") -------


def test_nul_characters_are_refused_at_the_edge(client, alice: Account):
    body = client.post(
        "/api/v1/knowledge/create",
        headers=alice.headers,
        json={"name": "a\u0000b", "description": ""},
    )
    assert body.status_code == 422 and "NUL" in body.json()["detail"]
    assert client.get("/api/v1/files/%00", headers=alice.headers).status_code == 400
    assert client.get("/api/v1/knowledge/?q=%00", headers=alice.headers).status_code == 400
    # an escaped backslash before "u0000" is ordinary text
    ok = client.post(
        "/api/v1/knowledge/create",
        headers=alice.headers,
        json={"name": "literal \\u0000", "description": ""},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["name"] == "literal \\u0000"


def test_edge_refusals_speak_openai_on_openai_routes(client, alice: Account):
    resp = client.post(
        "/api/chat/completions",
        headers=alice.headers,
        json={"model": "m", "messages": [{"role": "user", "content": "\u0000"}]},
    )
    assert resp.status_code == 422
    assert resp.json()["error"]["message"] and resp.json()["detail"]
    assert resp.headers["x-should-retry"] == "false"


async def test_sqlite_writers_take_turns_beyond_busy_timeout(make_settings, tmp_path):
    """SQLite's busy handler is no queue: with more waiting than busy_timeout (10 s) in total, a
    writer could lose every retry and fail. The process's writers take turns, so all succeed."""
    db = Database(make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'turns.db'}"))
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE log (n INTEGER)"))

        async def slow_write(n: int) -> None:
            async with db.write() as session:
                await session.execute(text("INSERT INTO log VALUES (:n)"), {"n": n})
                await asyncio.sleep(0.4)  # a long transaction: 28 of them queue for ~11 s

        await asyncio.gather(*(slow_write(n) for n in range(28)))
        async with db.sessionmaker() as session:
            assert (await session.execute(text("SELECT count(*) FROM log"))).scalar_one() == 28
    finally:
        await db.dispose()
