"""Accounts, sessions and API keys (Open WebUI §2), through the real app."""

from __future__ import annotations

import time

import jwt
import pytest

from tests.conftest import SECRET, Account, signup
from wayline.core import errors


def test_first_signup_is_admin_later_ones_get_default_role(client):
    first = client.post(
        "/api/v1/auths/signup", json={"name": "A", "email": "a@example.com", "password": "pw-a"}
    )
    second = client.post(
        "/api/v1/auths/signup", json={"name": "B", "email": "b@example.com", "password": "pw-b"}
    )
    assert first.status_code == 200 and second.status_code == 200
    assert first.json()["role"] == "admin"
    assert second.json()["role"] == "pending"
    body = first.json()
    assert body["token_type"] == "Bearer" and body["token"] and body["expires_at"] > time.time()
    assert {"id", "email", "name", "role", "profile_image_url", "permissions"} <= body.keys()


def test_signin_sets_cookie_and_the_cookie_authenticates(client, admin: Account):
    resp = client.post(
        "/api/v1/auths/signin", json={"email": admin.email, "password": admin.password}
    )
    assert resp.status_code == 200
    assert "token" in resp.cookies
    me = client.get("/api/v1/auths/")  # no header: the cookie alone
    assert me.status_code == 200 and me.json()["id"] == admin.id
    client.cookies.clear()


def test_session_user_with_jwt_api_key_and_x_api_key(client, admin: Account):
    for headers in (admin.jwt_headers, admin.headers, {"x-api-key": admin.api_key}):
        resp = client.get("/api/v1/auths/", headers=headers)
        assert resp.status_code == 200, headers
        assert resp.json()["email"] == admin.email


def test_custom_api_key_header(make_settings, make_client):
    client = make_client(make_settings(CUSTOM_API_KEY_HEADER="x-wayline-key"))
    admin = signup(client, "Admin")
    assert client.get("/api/v1/auths/", headers={"x-wayline-key": admin.api_key}).status_code == 200
    assert (
        client.get("/api/v1/auths/", headers={"x-api-key": admin.api_key}).json()["detail"]
        == errors.NOT_AUTHENTICATED
    )


def test_api_key_shown_once_then_masked(client, admin: Account):
    masked = client.get("/api/v1/auths/api_key", headers=admin.jwt_headers).json()["api_key"]
    assert masked != admin.api_key
    assert masked.startswith(admin.api_key[:7]) and masked.endswith(admin.api_key[-4:])


def test_replacing_the_default_key_revokes_the_old_one(client, admin: Account):
    new = client.post("/api/v1/auths/api_key", headers=admin.jwt_headers).json()["api_key"]
    assert new != admin.api_key and new.startswith("sk-") and len(new) >= 3 + 64
    assert client.get("/api/v1/auths/", headers=admin.headers).status_code == 401
    assert (
        client.get("/api/v1/auths/", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    )


def test_delete_default_key(client, admin: Account):
    assert client.delete("/api/v1/auths/api_key", headers=admin.jwt_headers).json() is True
    resp = client.get("/api/v1/auths/", headers=admin.headers)
    assert resp.status_code == 401 and resp.json()["detail"] == errors.INVALID_TOKEN
    resp = client.get("/api/v1/auths/api_key", headers=admin.jwt_headers)
    assert resp.status_code == 404 and resp.json()["detail"] == errors.API_KEY_NOT_FOUND


def test_named_keys_list_create_revoke(client, alice: Account):
    created = client.post(
        "/api/v1/auths/api_keys", json={"name": "ci"}, headers=alice.jwt_headers
    ).json()
    assert created["name"] == "ci" and created["api_key"].startswith("sk-")
    listed = client.get("/api/v1/auths/api_keys", headers=alice.jwt_headers).json()
    assert {k["name"] for k in listed} == {"Default", "ci"}
    assert all("api_key" not in k for k in listed)  # only the masked form is ever listed
    ci_headers = {"Authorization": f"Bearer {created['api_key']}"}
    assert client.get("/api/v1/auths/", headers=ci_headers).json()["id"] == alice.id
    assert (
        client.delete(f"/api/v1/auths/api_keys/{created['id']}", headers=alice.jwt_headers).json()
        is True
    )
    assert client.get("/api/v1/auths/", headers=ci_headers).status_code == 401
    # the default key is untouched
    assert client.get("/api/v1/auths/", headers=alice.headers).status_code == 200


def test_expired_api_key_is_rejected(client, alice: Account):
    created = client.post(
        "/api/v1/auths/api_keys",
        json={"name": "short", "expires_in_days": 0.000001},
        headers=alice.jwt_headers,
    ).json()
    assert created["expires_at"] is not None
    resp = client.get("/api/v1/auths/", headers={"Authorization": f"Bearer {created['api_key']}"})
    assert resp.status_code == 401 and resp.json()["detail"] == errors.INVALID_TOKEN
    # A refused call is no use: the key's `last_used_at` stays empty.
    keys = client.get("/api/v1/auths/api_keys", headers=alice.jwt_headers).json()
    assert [k["last_used_at"] for k in keys if k["id"] == created["id"]] == [None]


def test_api_keys_disabled(make_settings, make_client):
    client = make_client(make_settings(ENABLE_API_KEYS=False))
    admin = signup(client, "Admin")
    assert admin.api_key == ""  # creation refused
    resp = client.post("/api/v1/auths/api_key", headers=admin.jwt_headers)
    assert resp.status_code == 403 and resp.json()["detail"] == errors.API_KEY_CREATION_NOT_ALLOWED
    resp = client.get("/api/v1/auths/", headers={"Authorization": "Bearer sk-" + "0" * 64})
    assert resp.status_code == 403 and resp.json()["detail"] == errors.API_KEY_NOT_ALLOWED


def test_signout_revokes_that_session_only(client, admin: Account):
    other = client.post(
        "/api/v1/auths/signin", json={"email": admin.email, "password": admin.password}
    ).json()["token"]
    client.cookies.clear()
    assert client.post("/api/v1/auths/signout", headers=admin.jwt_headers).status_code == 200
    resp = client.get("/api/v1/auths/", headers=admin.jwt_headers)
    assert resp.status_code == 401 and resp.json()["detail"] == "Invalid token"
    assert (
        client.get("/api/v1/auths/", headers={"Authorization": f"Bearer {other}"}).status_code
        == 200
    )
    assert client.get("/api/v1/auths/", headers=admin.headers).status_code == 200


def test_password_change_ends_old_sessions(client, alice: Account):
    resp = client.post(
        "/api/v1/auths/update/password",
        json={"password": alice.password, "new_password": "n3w"},
        headers=alice.jwt_headers,
    )
    assert resp.status_code == 200 and resp.json() is True
    assert client.get("/api/v1/auths/", headers=alice.jwt_headers).status_code == 401
    assert (
        client.post(
            "/api/v1/auths/signin", json={"email": alice.email, "password": alice.password}
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/api/v1/auths/signin", json={"email": alice.email, "password": "n3w"}
        ).status_code
        == 200
    )
    client.cookies.clear()


def test_admin_adds_user(client, admin: Account):
    resp = client.post(
        "/api/v1/auths/add",
        json={"name": "Carol", "email": "carol@example.com", "password": "pw", "role": "user"},
        headers=admin.headers,
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["role"] == "user" and body["token"]
    me = client.get("/api/v1/auths/", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["email"] == "carol@example.com"


def test_headless_admin_from_environment(make_settings, make_client):
    client = make_client(
        make_settings(
            WEBUI_ADMIN_EMAIL="root@example.com",
            WEBUI_ADMIN_PASSWORD="s3cret",
            WEBUI_ADMIN_NAME="Root",
        )
    )
    resp = client.post(
        "/api/v1/auths/signin", json={"email": "root@example.com", "password": "s3cret"}
    )
    assert (
        resp.status_code == 200 and resp.json()["role"] == "admin" and resp.json()["name"] == "Root"
    )
    client.cookies.clear()
    # and the next sign-up is an ordinary (pending) account, not a second admin
    assert signup(client, "Later").role == "pending"


def test_generated_secret_key_survives_restart(make_settings, make_client, tmp_path):
    settings = make_settings(WEBUI_SECRET_KEY="", DATA_DIR=tmp_path / "keep")
    first = make_client(settings)
    admin = signup(first, "Admin")
    assert (tmp_path / "keep" / ".webui_secret_key").exists()
    second = make_client(make_settings(WEBUI_SECRET_KEY="", DATA_DIR=tmp_path / "keep"))
    assert second.get("/api/v1/auths/", headers=admin.jwt_headers).status_code == 200


def test_signup_disabled_after_first_account(make_settings, make_client):
    client = make_client(make_settings(ENABLE_SIGNUP=False))
    assert signup(client, "Admin").role == "admin"  # the first account is always allowed
    resp = client.post(
        "/api/v1/auths/signup", json={"name": "X", "email": "x@example.com", "password": "pw"}
    )
    assert resp.status_code == 403 and resp.json()["detail"] == errors.SIGNUP_DISABLED


def _jwt(claims: dict, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": "Bearer " + jwt.encode(claims, secret, algorithm="HS256")}


def _bad_inputs(
    admin: Account, pending: Account
) -> list[tuple[str, str, dict, object, int, object]]:
    now = int(time.time())
    return [
        # (method, path, headers, json body or raw bytes, status, detail)
        (
            "post",
            "/api/v1/auths/signin",
            {"Content-Type": "application/json"},
            b"{not json",
            422,
            "json_invalid",
        ),
        ("post", "/api/v1/auths/signin", {}, {"email": admin.email}, 422, "missing"),
        (
            "post",
            "/api/v1/auths/signup",
            {},
            {"name": "x", "email": "not-an-email", "password": "p"},
            400,
            errors.INVALID_EMAIL_FORMAT,
        ),
        (
            "post",
            "/api/v1/auths/signup",
            {},
            {"name": "x", "email": admin.email, "password": "p"},
            400,
            errors.EMAIL_TAKEN,
        ),
        (
            "post",
            "/api/v1/auths/signin",
            {},
            {"email": admin.email, "password": "wrong"},
            400,
            errors.INVALID_CRED,
        ),
        (
            "post",
            "/api/v1/auths/signin",
            {},
            {"email": "nobody@example.com", "password": "x"},
            400,
            errors.INVALID_CRED,
        ),
        ("get", "/api/v1/auths/", {}, None, 401, errors.NOT_AUTHENTICATED),
        (
            "get",
            "/api/v1/auths/",
            {"Authorization": "Bearer " + admin.token[:-2] + "xx"},
            None,
            401,
            errors.UNAUTHORIZED,
        ),
        (
            "get",
            "/api/v1/auths/",
            _jwt({"id": admin.id, "jti": "a", "exp": now - 10}),
            None,
            401,
            errors.UNAUTHORIZED,
        ),
        (
            "get",
            "/api/v1/auths/",
            _jwt({"id": admin.id, "jti": "a"}, "a-different-secret-that-is-long-enough-0123"),
            None,
            401,
            errors.UNAUTHORIZED,
        ),
        (
            "get",
            "/api/v1/auths/",
            _jwt({"id": "no-such-user", "jti": "a"}),
            None,
            401,
            errors.INVALID_TOKEN,
        ),
        (
            "get",
            "/api/v1/auths/",
            {"Authorization": "Bearer sk-unknown"},
            None,
            401,
            errors.INVALID_TOKEN,
        ),
        ("post", "/api/v1/auths/api_key", pending.jwt_headers, None, 401, errors.ACCESS_PROHIBITED),
        ("get", "/api/v1/users/", pending.jwt_headers, None, 401, errors.ACCESS_PROHIBITED),
        (
            "post",
            "/api/v1/auths/update/password",
            admin.jwt_headers,
            {"password": "wrong", "new_password": "x"},
            400,
            "Incorrect password",
        ),
        (
            "post",
            "/api/v1/auths/api_keys",
            admin.jwt_headers,
            {"name": "k", "expires_in_days": -1},
            422,
            "greater_than",
        ),
        ("get", "/api/v1/no/such/route", admin.headers, None, 404, errors.NOT_FOUND),
        (
            "delete",
            "/api/v1/auths/api_keys/nope",
            admin.headers,
            None,
            404,
            "API key nope not found",
        ),
        (
            "delete",
            f"/api/v1/users/{admin.id}",
            admin.headers,
            None,
            400,
            "You cannot delete your own account",
        ),
        (
            "get",
            "/api/v1/users/no-such-user",
            admin.headers,
            None,
            404,
            "User no-such-user not found",
        ),
    ]


def test_bad_input_answers_4xx_with_a_named_detail(client, admin: Account):
    pending = signup(client, "Pending")
    assert pending.role == "pending"
    for method, path, headers, body, status, detail in _bad_inputs(admin, pending):
        kwargs: dict = {"headers": headers}
        if isinstance(body, bytes):
            kwargs["content"] = body
        elif body is not None:
            kwargs["json"] = body
        resp = client.request(method.upper(), path, **kwargs)
        assert resp.status_code == status, (method, path, resp.text)
        got = resp.json()["detail"]
        if isinstance(got, list):  # validation errors name the failing type per field
            assert any(e["type"] == detail for e in got), (path, got)
        else:
            assert got == detail, (path, got)


def test_non_admin_cannot_reach_admin_routes(client, alice: Account):
    for method, path, body in [
        ("get", "/api/v1/users/", None),
        ("post", "/api/v1/users/update/role", {"id": alice.id, "role": "admin"}),
        ("post", "/api/v1/auths/add", {"name": "x", "email": "x@example.com", "password": "p"}),
        ("delete", "/api/v1/users/someone", None),
    ]:
        resp = client.request(method.upper(), path, json=body, headers=alice.headers)
        assert resp.status_code == 401 and resp.json()["detail"] == errors.ACCESS_PROHIBITED, path


@pytest.mark.parametrize("endpoint", ["/health", "/api/version"])
def test_public_endpoints(client, endpoint):
    assert client.get(endpoint).status_code == 200


def test_ready_and_config(client, admin: Account):
    assert client.get("/ready").json() == {"status": True}
    public = client.get("/api/config").json()
    assert public["features"]["enable_api_keys"] is True and "file" not in public
    assert "file" in client.get("/api/config", headers=admin.headers).json()


def test_signin_attempts_are_rate_limited_per_email(client, admin: Account, alice: Account):
    for _ in range(15):
        assert (
            client.post(
                "/api/v1/auths/signin", json={"email": admin.email, "password": "wrong"}
            ).status_code
            == 400
        )
    resp = client.post(
        "/api/v1/auths/signin", json={"email": admin.email, "password": admin.password}
    )
    assert resp.status_code == 429 and "Too many sign-in attempts" in resp.json()["detail"]
    # another account is unaffected
    assert (
        client.post(
            "/api/v1/auths/signin", json={"email": alice.email, "password": alice.password}
        ).status_code
        == 200
    )
    client.cookies.clear()


def test_many_first_requests_with_a_fresh_key_all_succeed(live_server):
    """Concurrent first use of a key (nothing cached yet) must not trip over SQLite's write lock."""
    import asyncio

    import httpx

    admin = signup(httpx.Client(base_url=live_server.url), "Admin")

    async def burst() -> list[int]:
        async with httpx.AsyncClient(
            base_url=live_server.url, limits=httpx.Limits(max_connections=64)
        ) as http:
            replies = await asyncio.gather(
                *(http.get("/api/v1/auths/", headers=admin.headers) for _ in range(64))
            )
        return [r.status_code for r in replies]

    assert set(asyncio.run(burst())) == {200}
    listed = httpx.get(live_server.url + "/api/v1/auths/api_keys", headers=admin.jwt_headers).json()
    assert listed[0]["last_used_at"] is not None  # use is still recorded (once per cache miss)
