"""`/api/v1/functions`: export, sync, the global toggle and each user's own valves (passed to
the pipe as `__user__["valves"]`)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.test_functions import create
from tests.conftest import Account

F = "/api/v1/functions"

PERSONAL = '''"""
title: Personal
"""
from pydantic import BaseModel


class Pipe:
    class Valves(BaseModel):
        greeting: str = "Hello"

    class UserValves(BaseModel):
        nickname: str = "stranger"
        loud: bool = False

    def __init__(self):
        self.valves = self.Valves()

    def pipe(self, body: dict, __user__: dict) -> str:
        valves = __user__["valves"]
        text = f"{self.valves.greeting}, {valves.nickname}"
        return text.upper() if valves.loud else text
'''

PLAIN = """
class Pipe:
    def pipe(self, body: dict, __user__: dict) -> str:
        return "keys=" + ",".join(sorted(__user__))
"""


def ok(resp: Any) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def reply(client: TestClient, account: Account, model: str) -> str:
    body = ok(
        client.post(
            "/api/chat/completions",
            headers=account.headers,
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        )
    )
    return str(body["choices"][0]["message"]["content"])


def test_export_with_and_without_valves(client: TestClient, admin: Account, alice: Account) -> None:
    create(client, admin, "personal", PERSONAL)
    ok(
        client.post(
            f"{F}/id/personal/valves/update", json={"greeting": "Hi"}, headers=admin.headers
        )
    )
    plain = ok(client.get(f"{F}/export", headers=admin.headers))
    assert [f["id"] for f in plain] == ["personal"]
    assert (
        plain[0]["content"] == PERSONAL and plain[0]["type"] == "pipe" and "valves" not in plain[0]
    )
    full = ok(client.get(f"{F}/export?include_valves=true", headers=admin.headers))
    assert full[0]["valves"] == {"greeting": "Hi"} and full[0]["content"] == PERSONAL
    assert client.get(f"{F}/export", headers=alice.headers).status_code == 401


def test_sync_replaces_the_whole_set(client: TestClient, admin: Account, alice: Account) -> None:
    create(client, admin, "personal", PERSONAL)
    create(client, admin, "plain", PLAIN)
    ok(
        client.post(
            f"{F}/id/personal/valves/user/update", json={"loud": True}, headers=alice.headers
        )
    )
    exported = ok(client.get(f"{F}/export?include_valves=true", headers=admin.headers))
    personal = next(f for f in exported if f["id"] == "personal")
    synced = ok(
        client.post(
            f"{F}/sync",
            json={
                "functions": [
                    {**personal, "name": "Renamed", "valves": {"greeting": "Ahoy"}},
                    {
                        "id": "fresh",
                        "name": "Fresh",
                        "content": PLAIN,
                        "meta": {},
                        "is_active": True,
                    },
                ]
            },
            headers=admin.headers,
        )
    )
    by_id = {f["id"]: f for f in synced}
    assert set(by_id) == {"personal", "fresh"}  # "plain" was not listed: deleted
    assert by_id["personal"]["name"] == "Renamed" and by_id["personal"]["valves"] == {
        "greeting": "Ahoy"
    }
    assert by_id["personal"]["created_at"] == personal["created_at"]
    assert by_id["fresh"]["type"] == "pipe" and by_id["fresh"]["user_id"] == admin.id
    listed = {f["id"] for f in ok(client.get(f"{F}/", headers=alice.headers))}
    assert listed == {"personal", "fresh"}
    models = {m["id"] for m in ok(client.get("/api/models", headers=alice.headers))["data"]}
    assert {"personal", "fresh"} <= models and "plain" not in models
    # The new valves are live, and alice's own valves survived the replacement.
    assert reply(client, alice, "personal") == "AHOY, STRANGER"
    assert reply(client, alice, "fresh") == "keys=email,id,name,role"


def test_a_bad_sync_changes_nothing(client: TestClient, admin: Account, alice: Account) -> None:
    create(client, admin, "personal", PERSONAL)
    before = ok(client.get(f"{F}/export?include_valves=true", headers=admin.headers))
    good = {"id": "fresh", "name": "Fresh", "content": PLAIN, "meta": {}}
    cases = [
        ([good, {**good, "id": "broken", "content": "def ("}], "broken"),
        (
            [good, {**good, "id": "novalves", "content": PERSONAL, "valves": {"greeting": []}}],
            "novalves",
        ),
        ([good, good], "fresh"),
        ([{**good, "id": "not an id"}], "alphanumeric"),
    ]
    for functions, named in cases:
        resp = client.post(f"{F}/sync", json={"functions": functions}, headers=admin.headers)
        assert resp.status_code in (400, 422), resp.text
        assert named in str(resp.json()["detail"])
        assert ok(client.get(f"{F}/export?include_valves=true", headers=admin.headers)) == before
    assert (
        client.post(f"{F}/sync", json={"functions": []}, headers=alice.headers).status_code == 401
    )


def test_toggle_global(client: TestClient, admin: Account, alice: Account) -> None:
    create(client, admin, "plain", PLAIN, activate=False)
    flipped = ok(client.post(f"{F}/id/plain/toggle/global", headers=admin.headers))
    assert flipped["is_global"] is True and flipped["content"] == PLAIN
    assert ok(client.get(f"{F}/id/plain", headers=admin.headers))["is_global"] is True
    assert (
        ok(client.post(f"{F}/id/plain/toggle/global", headers=admin.headers))["is_global"] is False
    )
    assert client.post(f"{F}/id/plain/toggle/global", headers=alice.headers).status_code == 401
    assert client.post(f"{F}/id/nope/toggle/global", headers=admin.headers).status_code == 404


def test_user_valves_are_each_users_own(
    client: TestClient, admin: Account, alice: Account, bob: Account
) -> None:
    create(client, admin, "personal", PERSONAL)
    spec = ok(client.get(f"{F}/id/personal/valves/user/spec", headers=alice.headers))
    assert set(spec["properties"]) == {"nickname", "loud"}
    assert ok(client.get(f"{F}/id/personal/valves/user", headers=alice.headers)) is None

    saved = ok(
        client.post(
            f"{F}/id/personal/valves/user/update",
            json={"nickname": "Al", "loud": None},  # nulls are dropped, as Open WebUI
            headers=alice.headers,
        )
    )
    assert saved == {"nickname": "Al"}
    assert ok(client.get(f"{F}/id/personal/valves/user", headers=alice.headers)) == saved
    assert ok(client.get(f"{F}/id/personal/valves/user", headers=bob.headers)) is None
    assert reply(client, alice, "personal") == "Hello, Al"
    assert reply(client, bob, "personal") == "Hello, stranger"

    ok(client.post(f"{F}/id/personal/valves/user/update", json={"loud": True}, headers=bob.headers))
    assert reply(client, bob, "personal") == "HELLO, STRANGER"
    assert reply(client, alice, "personal") == "Hello, Al"

    # A pipe without UserValves gets no "valves" key at all.
    create(client, admin, "plain", PLAIN)
    assert reply(client, alice, "plain") == "keys=email,id,name,role"


def test_user_valves_refusals(client: TestClient, admin: Account, alice: Account) -> None:
    create(client, admin, "personal", PERSONAL)
    create(client, admin, "plain", PLAIN)
    url = f"{F}/id/personal/valves/user/update"
    bad = client.post(url, json={"loud": "very"}, headers=alice.headers)
    assert bad.status_code == 400 and "loud" in bad.json()["detail"]
    not_object = client.post(url, json=["loud"], headers=alice.headers)
    assert not_object.status_code == 400 and "object" in not_object.json()["detail"]
    none = client.post(f"{F}/id/plain/valves/user/update", json={}, headers=alice.headers)
    assert none.status_code == 400 and "UserValves" in none.json()["detail"]
    for path in ("valves/user", "valves/user/spec"):
        assert client.get(f"{F}/id/nope/{path}", headers=alice.headers).status_code == 404
    assert (
        client.post(f"{F}/id/nope/valves/user/update", json={}, headers=alice.headers).status_code
        == 404
    )
    assert client.get(f"{F}/id/personal/valves/user").status_code == 401
    assert ok(client.get(f"{F}/id/personal/valves/user", headers=alice.headers)) is None

    ok(client.post(f"{F}/id/personal/toggle", headers=admin.headers))  # now inactive
    assert ok(client.get(f"{F}/id/personal/valves/user/spec", headers=alice.headers)) is None
    inactive = client.post(url, json={"nickname": "x"}, headers=alice.headers)
    assert inactive.status_code == 400 and "not active" in inactive.json()["detail"]


def test_deleting_a_function_deletes_its_user_valves(
    client: TestClient, admin: Account, alice: Account
) -> None:
    create(client, admin, "personal", PERSONAL)
    ok(
        client.post(
            f"{F}/id/personal/valves/user/update", json={"nickname": "Al"}, headers=alice.headers
        )
    )
    assert ok(client.delete(f"{F}/id/personal/delete", headers=admin.headers)) is True
    create(client, admin, "personal", PERSONAL)
    assert ok(client.get(f"{F}/id/personal/valves/user", headers=alice.headers)) is None


def test_saved_versions(client: TestClient, admin: Account, alice: Account) -> None:
    first = PLAIN.replace('"keys="', '"first keys="')
    created = create(client, admin, "plain", first)
    assert created["version_id"]
    edit = {"id": "plain", "name": "Plainer", "content": PLAIN, "meta": {"description": "d"}}
    second = ok(
        client.post(
            f"{F}/id/plain/update",
            json={**edit, "commit_message": "drop prefix"},
            headers=admin.headers,
        )
    )
    assert second["version_id"] != created["version_id"]
    # Saving what is already saved adds no version.
    same = ok(client.post(f"{F}/id/plain/update", json=edit, headers=admin.headers))
    assert same["version_id"] == second["version_id"]

    versions = ok(client.get(f"{F}/id/plain/history", headers=admin.headers))
    assert [v["id"] for v in versions] == [second["version_id"], created["version_id"]]
    assert versions[0]["commit_message"] == "drop prefix" and versions[0]["user"] == {
        "name": "Admin"
    }
    assert versions[0]["parent_id"] == created["version_id"] and "snapshot" not in versions[0]
    assert ok(client.get(f"{F}/id/plain/history?page=2", headers=admin.headers)) == []
    old = ok(client.get(f"{F}/id/plain/history/{created['version_id']}", headers=admin.headers))
    assert old["snapshot"]["content"] == first and old["function_id"] == "plain"

    diff = ok(
        client.get(
            f"{F}/id/plain/history/diff",
            params={"from_id": created["version_id"], "to_id": second["version_id"]},
            headers=admin.headers,
        )
    )
    assert '-        return "first keys=" + ",".join(sorted(__user__))' in diff["content_diff"]
    assert diff["metadata"] == {"name": {"before": "Plain", "after": "Plainer"}}
    assert diff["line_endings_only"] is False

    assert reply(client, alice, "plain") == "keys=email,id,name,role"
    restored = ok(
        client.post(
            f"{F}/id/plain/update/version",
            json={"version_id": created["version_id"]},
            headers=admin.headers,
        )
    )
    assert restored["content"] == first and restored["version_id"] == created["version_id"]
    assert restored["name"] == "Plain"
    assert reply(client, alice, "plain") == "first keys=email,id,name,role"
    assert len(ok(client.get(f"{F}/id/plain/history", headers=admin.headers))) == 2

    current = client.delete(f"{F}/id/plain/history/{created['version_id']}", headers=admin.headers)
    assert current.status_code == 400 and "current" in current.json()["detail"]
    assert ok(client.delete(f"{F}/id/plain/history/{second['version_id']}", headers=admin.headers))
    assert [v["id"] for v in ok(client.get(f"{F}/id/plain/history", headers=admin.headers))] == [
        created["version_id"]
    ]
    for method, path in [
        ("GET", f"{F}/id/plain/history/nope"),
        ("DELETE", f"{F}/id/plain/history/nope"),
        ("GET", f"{F}/id/nope/history"),
    ]:
        assert client.request(method, path, headers=admin.headers).status_code == 404, path
    missing = client.post(
        f"{F}/id/plain/update/version", json={"version_id": "nope"}, headers=admin.headers
    )
    assert missing.status_code == 404
    assert client.get(f"{F}/id/plain/history", headers=alice.headers).status_code == 401
