"""Concurrent writes against a real server: nothing answers 500, nothing is lost.

Presets, functions, collections and collection links written by many clients at once.
On SQLite every write transaction queues for the lock (BEGIN IMMEDIATE) instead of failing
with "database is locked"; on PostgreSQL two creates of one id race on the primary key and
the loser answers Open WebUI's 400 "already registered", never 500.

The model list is rebuilt on every create (cache off) and the upstream answers it slowly,
so each create spends time between its checks and its write — where a transaction that
read first used to lose the lock to another writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.conftest import Account, LiveServer, signup
from tests.fakes.upstream import FakeUpstream

ID_TAKEN = "already registered"
PIPE = """
class Pipe:
    def pipe(self, body):
        return "ok"
"""


@pytest.fixture
def server(
    live_server_factory: Callable[..., LiveServer], fake_upstream: FakeUpstream
) -> LiveServer:
    fake_upstream.models_delay = 0.2
    return live_server_factory(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake-upstream",
        MODELS_CACHE_TTL="0",
    )


@pytest.fixture
def accounts(server: LiveServer) -> tuple[Account, Account, Account]:
    with httpx.Client(base_url=server.url) as http:
        admin = signup(http, "Admin")
        return admin, signup(http, "Alice", admin=admin), signup(http, "Bob", admin=admin)


def at_once(
    server: LiveServer, calls: list[Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]]
) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            return list(await asyncio.gather(*(call(http) for call in calls)))

    return asyncio.run(run())


def post(
    path: str, account: Account, **kwargs
) -> Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]:
    return lambda http: http.post(path, headers=account.headers, **kwargs)


def preset(model_id: str) -> dict:
    return {
        "id": model_id,
        "base_model_id": "gpt-4-turbo",
        "name": model_id,
        "params": {"system": "Be brief."},
        "access_grants": [{"principal_type": "user", "principal_id": "*", "permission": "read"}],
    }


def test_concurrent_writes_distinct_preset_creates_all_succeed(
    server: LiveServer, accounts
) -> None:
    _, alice, bob = accounts
    answers = at_once(
        server,
        [
            post("/api/v1/models/create", (alice, bob)[i % 2], json=preset(f"p{i}"))
            for i in range(20)
        ],
    )
    assert [r.status_code for r in answers] == [200] * 20, [
        r.text for r in answers if r.status_code != 200
    ]
    listed = httpx.get(server.url + "/api/v1/models/list", headers=accounts[0].headers).json()
    assert sorted(m["id"] for m in listed["items"]) == sorted(f"p{i}" for i in range(20))


def test_concurrent_writes_same_preset_id_exactly_one_wins(server: LiveServer, accounts) -> None:
    admin, alice, bob = accounts
    answers = at_once(
        server,
        [
            post("/api/v1/models/create", (alice, bob)[i % 2], json=preset("same"))
            for i in range(10)
        ],
    )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [400] * 9, [r.text for r in answers]
    assert all(ID_TAKEN in r.json()["detail"] for r in answers if r.status_code == 400)
    listed = httpx.get(server.url + "/api/v1/models/list", headers=admin.headers).json()
    assert [m["id"] for m in listed["items"]] == ["same"]


def test_concurrent_writes_function_creates(server: LiveServer, accounts) -> None:
    admin = accounts[0]
    form = lambda fid: {"id": fid, "name": fid, "content": PIPE, "meta": {"description": "d"}}  # noqa: E731
    distinct = at_once(
        server, [post("/api/v1/functions/create", admin, json=form(f"f{i}")) for i in range(10)]
    )
    assert [r.status_code for r in distinct] == [200] * 10, [r.text for r in distinct]
    same = at_once(
        server, [post("/api/v1/functions/create", admin, json=form("same")) for _ in range(10)]
    )
    assert sorted(r.status_code for r in same) == [200] + [400] * 9, [r.text for r in same]
    toggles = at_once(server, [post(f"/api/v1/functions/id/f{i}/toggle", admin) for i in range(10)])
    assert [r.status_code for r in toggles] == [200] * 10, [r.text for r in toggles]
    listed = httpx.get(server.url + "/api/v1/functions/list", headers=admin.headers).json()
    assert len(listed) == 11 and sum(f["is_active"] for f in listed) == 10


def test_concurrent_writes_collection_creates_and_file_adds_all_succeed(
    server: LiveServer, accounts
) -> None:
    _, alice, _ = accounts
    uploads = at_once(
        server,
        [
            post(
                "/api/v1/files/?process_in_background=false",
                alice,
                files={
                    "file": (
                        f"f{i}.txt",
                        f"Note {i}: the heron count at lake {i} was {i * 7}.".encode(),
                        "text/plain",
                    )
                },
            )
            for i in range(6)
        ],
    )
    assert [r.status_code for r in uploads] == [200] * 6, [r.text for r in uploads]
    file_ids = [r.json()["id"] for r in uploads]

    created = at_once(
        server, [post("/api/v1/knowledge/create", alice, json={"name": f"k{i}"}) for i in range(10)]
    )
    assert [r.status_code for r in created] == [200] * 10, [r.text for r in created]
    kids = [r.json()["id"] for r in created]

    # Every file into the first collection, and each collection gets one file, all at once.
    adds = [
        post(f"/api/v1/knowledge/{kids[0]}/file/add", alice, json={"file_id": fid})
        for fid in file_ids
    ]
    adds += [
        post(f"/api/v1/knowledge/{kid}/file/add", alice, json={"file_id": file_ids[i % 6]})
        for i, kid in enumerate(kids[1:])
    ]
    answers = at_once(server, adds)
    assert [r.status_code for r in answers] == [200] * len(adds), [
        r.text for r in answers if r.status_code != 200
    ]

    listing = httpx.get(server.url + "/api/v1/knowledge/", headers=alice.headers).json()
    counts = {k["id"]: k["file_count"] for k in listing["items"]}
    assert counts == {kid: 6 if kid == kids[0] else 1 for kid in kids}
