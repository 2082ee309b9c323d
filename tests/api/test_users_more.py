"""The rest of `/api/v1/users`: lists and search, each user's own documents (settings, info,
status, variables), another user's public info, activity, profile pictures, sessions, and
permissions merged from the defaults and the user's groups."""

from __future__ import annotations

import base64
import time

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import Account, signup
from wayline.auth.credentials import Authenticator
from wayline.core import errors

U = "/api/v1/users"
G = "/api/v1/groups"


def group(client: TestClient, admin: Account, name: str, *members: Account, **fields) -> str:
    r = client.post(f"{G}/create", json={"name": name, **fields}, headers=admin.headers)
    assert r.status_code == 200, r.text
    gid = r.json()["id"]
    if members:
        r = client.post(
            f"{G}/id/{gid}/users/add",
            json={"user_ids": [m.id for m in members]},
            headers=admin.headers,
        )
        assert r.status_code == 200, r.text
    return gid


def test_all_is_not_taken_for_a_user_id(
    client: TestClient, admin: Account, alice: Account, bob: Account
):
    r = client.get(f"{U}/all", headers=admin.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 3 and {u["email"] for u in body["users"]} == {
        admin.email,
        alice.email,
        bob.email,
    }
    assert all(
        set(u) >= {"id", "name", "email", "role", "is_active", "groups"} for u in body["users"]
    )
    assert all("settings" not in u and "password_hash" not in u for u in body["users"])
    r = client.get(f"{U}/all", headers=alice.headers)
    assert r.status_code == 401 and r.json()["detail"] == errors.ACCESS_PROHIBITED


def test_admin_list_pages_sorts_and_shows_group_ids(
    client: TestClient, admin: Account, alice: Account, bob: Account
):
    gid = group(client, admin, "Team", bob)
    body = client.get(f"{U}/?order_by=name&direction=asc", headers=admin.headers).json()
    assert [u["name"] for u in body["users"]] == ["Admin", "Alice", "Bob"] and body["total"] == 3
    assert {u["name"]: u["group_ids"] for u in body["users"]}["Bob"] == [gid]
    first = client.get(f"{U}/?order_by=name&direction=desc&limit=2", headers=admin.headers).json()
    assert [u["name"] for u in first["users"]] == ["Bob", "Alice"] and first["total"] == 3
    second = client.get(f"{U}/?order_by=name&direction=desc&limit=2&page=2", headers=admin.headers)
    assert [u["name"] for u in second.json()["users"]] == ["Admin"]
    members_first = client.get(f"{U}/?order_by=group_id:{gid}", headers=admin.headers).json()
    assert members_first["users"][0]["id"] == bob.id
    found = client.get(f"{U}/?query=LIC", headers=admin.headers).json()
    assert [u["id"] for u in found["users"]] == [alice.id] and found["total"] == 1


def test_search_is_open_to_users_but_shows_no_private_documents(
    client: TestClient, alice: Account, bob: Account
):
    client.post(f"{U}/user/settings/update", json={"ui": {"theme": "dark"}}, headers=bob.headers)
    client.post(f"{U}/user/info/update", json={"location": "Oslo"}, headers=bob.headers)
    r = client.get(f"{U}/search?query=bob", headers=alice.headers)
    assert r.status_code == 200, r.text
    [found] = r.json()["users"]
    assert found["id"] == bob.id and found["email"] == bob.email
    assert "settings" not in found and "info" not in found and "Oslo" not in r.text
    assert client.get(f"{U}/search?query=nobody", headers=alice.headers).json() == {
        "users": [],
        "total": 0,
    }
    pending = signup(client, "Pending")
    assert client.get(f"{U}/search", headers=pending.jwt_headers).status_code == 401


def test_settings_are_patched_and_private(client: TestClient, alice: Account, bob: Account):
    assert client.get(f"{U}/user/settings", headers=alice.headers).json() is None
    r = client.post(
        f"{U}/user/settings/update",
        json={"ui": {"theme": "dark", "lang": "nb"}, "notes": {"a": 1}},
        headers=alice.headers,
    )
    assert r.status_code == 200 and r.json()["ui"] == {"theme": "dark", "lang": "nb"}
    # `ui` is patched key by key (null removes one); other keys are replaced.
    r = client.post(
        f"{U}/user/settings/update",
        json={"ui": {"lang": None, "chatBubble": True}},
        headers=alice.headers,
    )
    assert r.json() == {"ui": {"theme": "dark", "chatBubble": True}, "notes": {"a": 1}}
    assert client.get(f"{U}/user/settings", headers=alice.headers).json() == r.json()
    assert client.get(f"{U}/user/settings", headers=bob.headers).json() is None
    bad = client.post(f"{U}/user/settings/update", json={"ui": "dark"}, headers=alice.headers)
    assert bad.status_code == 422


def test_info_merges_and_status_sets(client: TestClient, alice: Account, bob: Account):
    assert client.get(f"{U}/user/info", headers=alice.headers).json() is None
    client.post(
        f"{U}/user/info/update", json={"location": "Oslo", "team": "a"}, headers=alice.headers
    )
    r = client.post(f"{U}/user/info/update", json={"team": "b"}, headers=alice.headers)
    assert r.json() == {"location": "Oslo", "team": "b"}
    assert client.get(f"{U}/user/info", headers=alice.headers).json() == r.json()
    assert (
        client.post(f"{U}/user/info/update", json=["x"], headers=alice.headers).status_code == 422
    )

    r = client.post(
        f"{U}/user/status/update",
        json={"status_emoji": "🌴", "status_message": "Away"},
        headers=alice.headers,
    )
    assert r.status_code == 200 and r.json()["status_message"] == "Away"
    client.post(
        f"{U}/user/status/update", json={"status_expires_at": 2_000_000_000}, headers=alice.headers
    )
    status = client.get(f"{U}/user/status", headers=alice.headers).json()
    assert (status["status_emoji"], status["status_message"], status["status_expires_at"]) == (
        "🌴",
        "Away",
        2_000_000_000,
    )
    # Another user reads the status (not the info) through `/{id}/info`.
    seen = client.get(f"{U}/{alice.id}/info", headers=bob.headers).json()
    assert seen["status_message"] == "Away" and seen["email"] == alice.email and "info" not in seen


def test_variables_follow_open_webuis_rules(client: TestClient, alice: Account):
    r = client.post(
        f"{U}/user/variables/update",
        json={"variables": {"team_name": "Core", "city": "Oslo"}},
        headers=alice.headers,
    )
    assert r.status_code == 200 and r.json() == {"variables": {"team_name": "Core", "city": "Oslo"}}
    assert client.get(f"{U}/user/variables", headers=alice.headers).json() == r.json()
    for variables, fragment in [
        ({"Team": "x"}, "Team"),
        ({"team": 5}, "team"),
        ({"team": "x" * 20_001}, "too long"),
    ]:
        bad = client.post(
            f"{U}/user/variables/update", json={"variables": variables}, headers=alice.headers
        )
        assert bad.status_code == 400 and fragment in bad.json()["detail"], bad.text
    assert client.get(f"{U}/user/variables", headers=alice.headers).json() == r.json()


def test_user_by_id_info_and_active(
    client: TestClient, admin: Account, alice: Account, bob: Account
):
    gid = group(client, admin, "Team", alice)
    got = client.get(f"{U}/{alice.id}", headers=admin.headers).json()
    assert got["email"] == alice.email and got["groups"] == [{"id": gid, "name": "Team"}]
    info = client.get(f"{U}/{alice.id}/info", headers=bob.headers).json()
    assert info["groups"] == [{"id": gid, "name": "Team"}] and info["role"] == "user"
    r = client.get(f"{U}/ghost/info", headers=bob.headers)
    assert r.status_code == 404 and "ghost" in r.json()["detail"]
    # Signed in a moment ago (the fixture signed up): active. An unknown id is simply not.
    assert client.get(f"{U}/{alice.id}/active", headers=bob.headers).json() == {"active": True}
    assert client.get(f"{U}/ghost/active", headers=bob.headers).json() == {"active": False}
    r = client.get(f"{U}/ghost/groups", headers=admin.headers)
    assert r.status_code == 404 and "ghost" in r.json()["detail"]
    assert client.get(f"{U}/{alice.id}/groups", headers=bob.headers).status_code == 401


def test_using_a_key_or_a_session_marks_the_account_active(
    client: TestClient, admin: Account, alice: Account, bob: Account
):
    """`last_active_at` moves when a credential is used, not only at sign-in (as in Open
    WebUI): an account idle for an hour is active again after a call with its API key, and
    after a call with its session."""
    state = client.app.state.wayline
    key = client.post("/api/v1/auths/api_key", headers=alice.headers).json()["api_key"]

    async def idle_for_an_hour() -> None:
        async with state.core.db.write() as s:
            await s.execute(
                text(
                    'UPDATE "user" SET last_active_at = last_active_at - 3600 WHERE id IN (:a, :b)'
                ),
                {"a": alice.id, "b": bob.id},
            )
        await state.get(Authenticator).invalidate("test: forget cached credentials")

    def last_active(account: Account) -> int:
        got = client.get(f"{U}/{account.id}", headers=admin.headers)
        assert got.status_code == 200, got.text
        return int(got.json()["last_active_at"])

    def active(account: Account) -> bool:
        return client.get(f"{U}/{account.id}/active", headers=admin.headers).json()["active"]

    client.portal.call(idle_for_an_hour)
    assert not active(alice) and not active(bob)
    assert last_active(alice) < time.time() - 3000
    assert client.get("/api/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert active(alice) and not active(bob)
    assert last_active(alice) >= time.time() - 60
    assert client.get("/api/v1/auths/", headers=bob.headers).status_code == 200
    assert active(bob)


def test_profile_images(client: TestClient, admin: Account, alice: Account, bob: Account):
    default = client.get(f"{U}/{alice.id}/profile/image", headers=bob.headers)
    assert default.status_code == 200 and default.headers["content-type"] == "image/png"
    assert default.content.startswith(b"\x89PNG\r\n\x1a\n")

    gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
    data_url = "data:image/gif;base64," + base64.b64encode(gif).decode()
    client.post(
        f"{U}/{alice.id}/update", json={"profile_image_url": data_url}, headers=admin.headers
    )
    r = client.get(f"{U}/{alice.id}/profile/image", headers=bob.headers)
    assert r.content == gif and r.headers["content-type"] == "image/gif"
    assert r.headers["x-content-type-options"] == "nosniff"

    svg = "data:image/svg+xml;base64," + base64.b64encode(b"<svg onload='x'/>").decode()
    client.post(f"{U}/{alice.id}/update", json={"profile_image_url": svg}, headers=admin.headers)
    r = client.get(f"{U}/{alice.id}/profile/image", headers=bob.headers)
    assert r.content == default.content  # not an allowed type: the default picture

    client.post(
        f"{U}/{alice.id}/update",
        json={"profile_image_url": "https://img.example/a.png"},
        headers=admin.headers,
    )
    r = client.get(f"{U}/{alice.id}/profile/image", headers=bob.headers, follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "https://img.example/a.png"
    assert client.get(f"{U}/ghost/profile/image", headers=bob.headers).status_code == 404


def test_revoking_sessions_ends_jwts_not_keys(client: TestClient, admin: Account, alice: Account):
    assert client.get("/api/v1/auths/", headers=alice.jwt_headers).status_code == 200
    r = client.post(f"{U}/{alice.id}/sessions/revoke", headers=admin.headers)
    assert r.status_code == 200 and r.json() is True
    assert client.get("/api/v1/auths/", headers=alice.jwt_headers).status_code == 401
    assert client.get("/api/v1/auths/", headers=alice.headers).status_code == 200
    assert client.post(f"{U}/ghost/sessions/revoke", headers=admin.headers).status_code == 404
    assert client.post(f"{U}/{admin.id}/sessions/revoke", headers=alice.headers).status_code == 401


def test_permissions_merge_defaults_with_groups(
    client: TestClient, admin: Account, alice: Account, bob: Account
):
    shipped = client.get(f"{U}/default/permissions/defaults", headers=admin.headers).json()
    assert shipped["workspace"]["models"] is False and shipped["chat"]["import"] is True
    assert client.get(f"{U}/default/permissions", headers=admin.headers).json() == shipped
    assert client.get(f"{U}/permissions", headers=alice.headers).json() == shipped

    # A group's permissions add to its members' (the most permissive value wins) ...
    parent = group(client, admin, "Staff", permissions={"features": {"api_keys": True}})
    team = group(
        client,
        admin,
        "Builders",
        alice,
        parent_group_id=parent,
        permissions={"workspace": {"models": True}, "chat": {"tts": False}},
    )
    mine = client.get(f"{U}/permissions", headers=alice.headers).json()
    assert mine["workspace"]["models"] is True
    assert mine["features"]["api_keys"] is True  # inherited from the parent group
    assert mine["chat"]["tts"] is True  # a group cannot take away what the defaults give
    assert client.get(f"{U}/permissions", headers=bob.headers).json() == shipped

    # ... and the admin's defaults apply to everyone.
    changed = {**shipped, "workspace": {**shipped["workspace"], "knowledge": True}}
    r = client.post(f"{U}/default/permissions", json=changed, headers=admin.headers)
    assert r.status_code == 200 and r.json()["workspace"]["knowledge"] is True
    assert client.get(f"{U}/default/permissions", headers=admin.headers).json() == changed
    assert client.get(f"{U}/permissions", headers=bob.headers).json()["workspace"]["knowledge"]

    # Leaving the group takes its permissions away at once.
    client.post(f"{G}/id/{team}/users/remove", json={"user_ids": [alice.id]}, headers=admin.headers)
    assert client.get(f"{U}/permissions", headers=alice.headers).json() == changed

    assert client.get(f"{U}/default/permissions", headers=alice.headers).status_code == 401
    r = client.post(f"{U}/default/permissions", json=changed, headers=alice.headers)
    assert r.status_code == 401
    r = client.post(f"{U}/default/permissions", json={"workspace": {}}, headers=admin.headers)
    assert r.status_code == 422  # every section is required, as in Open WebUI


def test_previews_show_what_a_user_and_a_group_reach(
    client: TestClient, admin: Account, alice: Account, bob: Account
):
    gid = group(client, admin, "Team", alice, permissions={"workspace": {"models": True}})
    shared = client.post(
        "/api/v1/knowledge/create",
        json={
            "name": "Handbook",
            "access_grants": [
                {"principal_type": "group", "principal_id": gid, "permission": "read"}
            ],
        },
        headers=bob.headers,
    ).json()
    client.post("/api/v1/knowledge/create", json={"name": "Bob's own"}, headers=bob.headers)

    user = client.get(f"{U}/{alice.id}/preview", headers=admin.headers).json()
    assert user["user"] == {"id": alice.id, "name": "Alice"}
    assert user["groups"] == [{"id": gid, "name": "Team"}]
    assert user["knowledge"] == {"items": [{"id": shared["id"], "name": "Handbook"}], "total": 2}
    assert user["tools"] == {"items": [], "total": 0}

    preview = client.get(f"{G}/id/{gid}/preview", headers=admin.headers).json()
    assert preview["group"] == {"id": gid, "name": "Team"}
    assert [k["id"] for k in preview["knowledge"]["items"]] == [shared["id"]]
    assert preview["permissions"] == {"workspace": {"models": True}}
    assert preview["inherited_permissions"]["workspace"]["models"] is False
    assert preview["effective_permissions"]["workspace"]["models"] is True
    assert client.get(f"{U}/{alice.id}/preview", headers=alice.headers).status_code == 401
    assert client.get(f"{U}/ghost/preview", headers=admin.headers).status_code == 404
