"""`/api/v1/models`: Open WebUI's whole-collection routes (all, base, tags, export, import, sync,
delete-all), access updates and profile images, against the fake upstream."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account, signup
from wayline.core.settings import Settings

M = "/api/v1/models"


@pytest.fixture
def settings(gateway_settings: Settings) -> Settings:
    return gateway_settings


def ok(resp: Any) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def preset(model_id: str, base: str = "gpt-4o-mini", tags: tuple[str, ...] = (), **extra: Any):
    return {
        "id": model_id,
        "base_model_id": base,
        "name": model_id.title(),
        "params": {"system": f"You are {model_id}."},
        "meta": {"description": model_id, "tags": [{"name": t} for t in tags]},
        **extra,
    }


def create(client: TestClient, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    return ok(client.post(f"{M}/create", json=body, headers=account.headers))


def ids_of(items: list[dict[str, Any]]) -> list[str]:
    return sorted(item["id"] for item in items)


def available(client: TestClient, account: Account) -> set[str]:
    return {m["id"] for m in ok(client.get("/api/models", headers=account.headers))["data"]}


EVERYONE = [{"principal_type": "user", "principal_id": "*", "permission": "read"}]


def test_tags_and_export_show_only_what_the_caller_may_see(
    client: TestClient, admin: Account, alice: Account, bob: Account
) -> None:
    create(client, alice, preset("secret", tags=("private",)))
    create(client, bob, preset("shared", tags=("team",), access_grants=EVERYONE))
    create(client, bob, preset("bobs", tags=("bob-only",)))

    assert ok(client.get(f"{M}/tags", headers=alice.headers)) == ["private", "team"]
    assert ok(client.get(f"{M}/tags", headers=admin.headers)) == ["bob-only", "private", "team"]
    # Export: what the caller may write (read-only shares are not theirs to export).
    assert ids_of(ok(client.get(f"{M}/export", headers=alice.headers))) == ["secret"]
    assert ids_of(ok(client.get(f"{M}/export", headers=bob.headers))) == ["bobs", "shared"]
    assert ids_of(ok(client.get(f"{M}/export", headers=admin.headers))) == [
        "bobs",
        "secret",
        "shared",
    ]
    exported = ok(client.get(f"{M}/export", headers=alice.headers))[0]
    assert exported["params"] == {"system": "You are secret."} and "write_access" not in exported
    picked = client.get(f"{M}/export?ids=secret&ids=bobs", headers=alice.headers)
    assert picked.status_code == 403 and "bobs" in picked.json()["detail"]
    assert ids_of(ok(client.get(f"{M}/export?ids=shared", headers=bob.headers))) == ["shared"]

    for path in ("all", "base", "base/tags"):
        assert client.get(f"{M}/{path}", headers=alice.headers).status_code == 401, path
    assert client.get(f"{M}/tags").status_code == 401


def test_all_and_base_rows(client: TestClient, admin: Account, alice: Account) -> None:
    create(client, alice, preset("pirate"))
    override = {"id": "gpt-4o-mini", "name": "Mini", "meta": {"tags": ["fast"]}, "params": {}}
    create(client, admin, override)
    assert ids_of(ok(client.get(f"{M}/all", headers=admin.headers))) == ["gpt-4o-mini", "pirate"]
    base = ok(client.get(f"{M}/base", headers=admin.headers))
    assert ids_of(base) == ["gpt-4o-mini"] and base[0]["base_model_id"] is None
    assert base[0]["access_grants"] == [] and base[0]["user_id"] == admin.id
    assert ok(client.get(f"{M}/base?tag=fast", headers=admin.headers))[0]["id"] == "gpt-4o-mini"
    assert ok(client.get(f"{M}/base?tag=slow", headers=admin.headers)) == []
    assert ok(client.get(f"{M}/base/tags", headers=admin.headers)) == ["fast"]


def test_export_import_round_trip(client: TestClient, alice: Account, bob: Account) -> None:
    create(client, alice, preset("pirate", tags=("fun",), access_grants=EVERYONE))
    create(client, alice, preset("poet", base="llama3.1:latest"))
    exported = ok(client.get(f"{M}/export", headers=alice.headers))
    for model_id in ("pirate", "poet"):
        ok(client.post(f"{M}/model/delete", json={"id": model_id}, headers=alice.headers))
    assert ok(client.get(f"{M}/export", headers=alice.headers)) == []

    assert ok(client.post(f"{M}/import", json={"models": exported}, headers=alice.headers)) is True
    again = ok(client.get(f"{M}/export", headers=alice.headers))
    keep = (
        "id",
        "base_model_id",
        "name",
        "params",
        "meta",
        "access_grants",
        "is_active",
        "user_id",
    )
    assert [{k: m[k] for k in keep} for m in again] == [{k: m[k] for k in keep} for m in exported]
    assert {"pirate", "poet"} <= available(client, alice) and "pirate" in available(client, bob)

    # Re-importing updates in place: meta merged key by key, params replaced, grants kept.
    change = {"id": "pirate", "name": "Captain", "meta": {"description": "Arr"}, "params": {}}
    ok(client.post(f"{M}/import", json={"models": [change]}, headers=alice.headers))
    row = ok(client.get(f"{M}/model?id=pirate", headers=alice.headers))
    assert row["name"] == "Captain" and row["params"] == {}
    assert row["meta"] == {"description": "Arr", "tags": [{"name": "fun"}]}
    assert (
        row["base_model_id"] == "gpt-4o-mini"
        and row["access_grants"] == exported[0]["access_grants"]
    )


@pytest.mark.parametrize(
    ("models", "status", "named"),
    [
        ([preset("ok"), {"name": "no id"}], 400, "'id' is required"),
        ([preset("ok"), preset("ok")], 400, "listed twice"),
        ([preset("ok"), preset("bad", params="x")], 400, "models[1]"),
        ([preset("ok"), preset("ghost", base="no-such-model")], 404, "no-such-model"),
        ([preset("ok"), {**preset("selfish"), "base_model_id": None}], 400, "only admins"),
        ([preset("ok"), preset("gpt-4-turbo")], 409, "gpt-4-turbo"),
        ([preset("ok"), preset("theirs")], 401, "theirs"),
    ],
)
def test_a_bad_import_changes_nothing(
    client: TestClient,
    alice: Account,
    bob: Account,
    models: list[dict[str, Any]],
    status: int,
    named: str,
) -> None:
    create(client, bob, preset("theirs", access_grants=EVERYONE))
    resp = client.post(f"{M}/import", json={"models": models}, headers=alice.headers)
    assert resp.status_code == status, resp.text
    assert named in str(resp.json()["detail"])
    assert ok(client.get(f"{M}/export", headers=alice.headers)) == []
    assert ok(client.get(f"{M}/model?id=theirs", headers=bob.headers))["name"] == "Theirs"


def test_sync_makes_the_list_the_whole_set(
    client: TestClient, admin: Account, alice: Account
) -> None:
    create(client, alice, preset("keep", access_grants=EVERYONE))
    create(client, alice, preset("drop"))
    keep = ok(client.get(f"{M}/model?id=keep", headers=alice.headers))
    synced = ok(
        client.post(
            f"{M}/sync",
            json={
                "models": [
                    {**keep, "name": "Kept", "access_grants": []},
                    {**preset("fresh", access_grants=EVERYONE), "created_at": 1_600_000_000},
                ]
            },
            headers=admin.headers,
        )
    )
    by_id = {m["id"]: m for m in synced}
    assert set(by_id) == {"keep", "fresh"}
    assert by_id["keep"]["name"] == "Kept" and by_id["keep"]["user_id"] == admin.id
    assert by_id["keep"]["access_grants"] == keep["access_grants"]  # an existing row keeps its own
    assert by_id["fresh"]["created_at"] == 1_600_000_000 and by_id["fresh"]["access_grants"]
    assert client.get(f"{M}/model?id=drop", headers=admin.headers).status_code == 404
    assert {"keep", "fresh"} <= available(client, alice)

    bad = client.post(
        f"{M}/sync", json={"models": [preset("x", base="no-such-model")]}, headers=admin.headers
    )
    assert bad.status_code == 404 and "no-such-model" in bad.json()["detail"]
    assert ids_of(ok(client.get(f"{M}/all", headers=admin.headers))) == ["fresh", "keep"]
    assert client.post(f"{M}/sync", json={"models": []}, headers=alice.headers).status_code == 401


def test_delete_all(client: TestClient, admin: Account, alice: Account) -> None:
    create(client, alice, preset("pirate", access_grants=EVERYONE))
    assert client.delete(f"{M}/delete/all", headers=alice.headers).status_code == 401
    assert ok(client.delete(f"{M}/delete/all", headers=admin.headers)) is True
    assert ok(client.get(f"{M}/all", headers=admin.headers)) == []
    assert "pirate" not in available(client, alice)


def test_access_update(
    make_client: Callable[[Settings], TestClient], gateway_settings: Settings
) -> None:
    # Base models are open to every user unless BYPASS_MODEL_ACCESS_CONTROL is off.
    settings = gateway_settings.model_copy(update={"BYPASS_MODEL_ACCESS_CONTROL": False})
    client = make_client(settings)
    admin = signup(client, "Admin")
    alice, bob = signup(client, "Alice", admin=admin), signup(client, "Bob", admin=admin)
    assert "gpt-4o-mini" not in available(client, alice)
    # A base model has no row yet: an admin's access update makes one (an override with no
    # changes), and its grants decide who may use the model.
    opened = {"id": "gpt-4o-mini", "access_grants": EVERYONE}
    made = ok(client.post(f"{M}/model/access/update", json=opened, headers=admin.headers))
    assert made["base_model_id"] is None and made["name"] == "gpt-4o-mini"
    assert made["user_id"] == admin.id and made["access_grants"] == EVERYONE
    assert "gpt-4o-mini" in available(client, alice)
    create(client, alice, preset("pirate"))
    assert "pirate" not in available(client, bob)
    form = {"id": "pirate", "access_grants": EVERYONE}
    assert (
        client.post(f"{M}/model/access/update", json=form, headers=bob.headers).status_code == 404
    )
    updated = ok(client.post(f"{M}/model/access/update", json=form, headers=alice.headers))
    assert updated["access_grants"] == EVERYONE and "write_access" not in updated
    assert "pirate" in available(client, bob)
    read_only = client.post(f"{M}/model/access/update", json=form, headers=bob.headers)
    assert read_only.status_code == 401

    only_bob = [{"principal_type": "user", "principal_id": bob.id, "permission": "read"}]
    named = {"id": "gpt-4-turbo", "name": "Turbo", "access_grants": only_bob}
    turbo = ok(client.post(f"{M}/model/access/update", json=named, headers=admin.headers))
    assert turbo["name"] == "Turbo"
    assert "gpt-4-turbo" not in available(client, alice) and "gpt-4-turbo" in available(client, bob)
    nobody = {"id": "text-embedding-3-small", "access_grants": []}
    assert (
        client.post(f"{M}/model/access/update", json=nobody, headers=alice.headers).status_code
        == 403
    )
    ghost = {"id": "no-such-model", "access_grants": []}
    assert (
        client.post(f"{M}/model/access/update", json=ghost, headers=admin.headers).status_code
        == 404
    )
    spaced = {"id": "a b", "access_grants": []}
    assert (
        client.post(f"{M}/model/access/update", json=spaced, headers=admin.headers).status_code
        == 422
    )


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def test_profile_image(client: TestClient, alice: Account, bob: Account) -> None:
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    create(client, alice, preset("inline", meta={"profile_image_url": data_url}))
    create(client, alice, preset("linked", meta={"profile_image_url": "https://example.com/a.png"}))
    create(
        client,
        alice,
        preset("svg", meta={"profile_image_url": "data:image/svg+xml;base64,PHN2Zz4="}),
    )
    url = f"{M}/model/profile/image"
    inline = client.get(url, params={"id": "inline"}, headers=alice.headers)
    assert inline.status_code == 200 and inline.content == PNG
    assert inline.headers["content-type"] == "image/png"
    linked = client.get(url, params={"id": "linked"}, headers=alice.headers, follow_redirects=False)
    assert linked.status_code == 302 and linked.headers["location"] == "https://example.com/a.png"
    assert client.get(url, params={"id": "svg"}, headers=alice.headers).status_code == 404
    # Bob may not read alice's models: the same answer as for a model that does not exist.
    hidden = client.get(url, params={"id": "inline"}, headers=bob.headers)
    missing = client.get(url, params={"id": "nope"}, headers=bob.headers)
    assert hidden.status_code == missing.status_code == 404


def test_saved_versions(client: TestClient, admin: Account, alice: Account, bob: Account) -> None:
    created = create(client, alice, {**preset("pirate"), "commit_message": "first"})
    first = created["version_id"]
    assert first
    edited = {**preset("pirate"), "params": {"system": "Arr."}, "commit_message": "shorter"}
    second = ok(client.post(f"{M}/model/update?id=pirate", json=edited, headers=alice.headers))
    assert second["version_id"] != first
    # Re-saving the same configuration and toggling save no version.
    same = ok(client.post(f"{M}/model/update?id=pirate", json=edited, headers=alice.headers))
    toggled = ok(client.post(f"{M}/model/toggle?id=pirate", headers=alice.headers))
    assert same["version_id"] == toggled["version_id"] == second["version_id"]

    listed = ok(client.get(f"{M}/model/history?id=pirate", headers=alice.headers))
    assert [v["id"] for v in listed] == [second["version_id"], first]
    assert [v["commit_message"] for v in listed] == ["shorter", "first"]
    assert listed[0]["user"] == {"name": "Alice"} and listed[0]["parent_id"] == first
    entry = ok(client.get(f"{M}/model/history/{first}?id=pirate", headers=alice.headers))
    assert entry["snapshot"]["params"] == {"system": "You are pirate."}
    assert entry["snapshot"]["base_model_id"] == "gpt-4o-mini" and entry["model_id"] == "pirate"

    restored = ok(
        client.post(
            f"{M}/model/update/version?id=pirate", json={"version_id": first}, headers=alice.headers
        )
    )
    assert restored["version_id"] == first and restored["params"] == {"system": "You are pirate."}
    assert restored["is_active"] is False  # the live row keeps its own state
    assert len(ok(client.get(f"{M}/model/history?id=pirate", headers=alice.headers))) == 2

    current = client.delete(f"{M}/model/history/{first}?id=pirate", headers=alice.headers)
    assert current.status_code == 400 and "current" in current.json()["detail"]
    gone = client.delete(
        f"{M}/model/history/{second['version_id']}?id=pirate", headers=alice.headers
    )
    assert gone.status_code == 200 and gone.json() is True
    assert [
        v["id"] for v in ok(client.get(f"{M}/model/history?id=pirate", headers=alice.headers))
    ] == [first]
    # Only those who may write the model see its history; an admin may.
    assert client.get(f"{M}/model/history?id=pirate", headers=bob.headers).status_code == 404
    assert len(ok(client.get(f"{M}/model/history?id=pirate", headers=admin.headers))) == 1
    for path in (f"{M}/model/history/nope?id=pirate", f"{M}/model/history?id=nope"):
        assert client.get(path, headers=alice.headers).status_code == 404, path
    missing = client.post(
        f"{M}/model/update/version?id=pirate", json={"version_id": "nope"}, headers=alice.headers
    )
    assert missing.status_code == 404
    # Deleting the model deletes its versions: a new model of the same id starts afresh.
    ok(client.post(f"{M}/model/delete", json={"id": "pirate"}, headers=alice.headers))
    create(client, alice, preset("pirate"))
    assert len(ok(client.get(f"{M}/model/history?id=pirate", headers=alice.headers))) == 1


def test_group_grants_reach_the_list_routes(
    client: TestClient, admin: Account, alice: Account, bob: Account
) -> None:
    group = ok(client.post("/api/v1/groups/create", json={"name": "Crew"}, headers=admin.headers))
    ok(
        client.post(
            f"/api/v1/groups/id/{group['id']}/users/add",
            json={"user_ids": [bob.id]},
            headers=admin.headers,
        )
    )
    to_group = [{"principal_type": "group", "principal_id": group["id"], "permission": "write"}]
    create(client, alice, preset("crewed", tags=("crew",), access_grants=to_group))
    create(client, alice, preset("solo", tags=("solo",)))
    assert ok(client.get(f"{M}/tags", headers=bob.headers)) == ["crew"]
    assert ids_of(ok(client.get(f"{M}/export", headers=bob.headers))) == ["crewed"]
    # Bob may write it through his group: he may re-import it, but not alice's private one.
    change = {"id": "crewed", "name": "Crew's"}
    assert ok(client.post(f"{M}/import", json={"models": [change]}, headers=bob.headers)) is True
    assert ok(client.get(f"{M}/model?id=crewed", headers=alice.headers))["name"] == "Crew's"
    theirs = client.post(f"{M}/import", json={"models": [{"id": "solo"}]}, headers=bob.headers)
    assert theirs.status_code == 401
    history = ok(client.get(f"{M}/model/history?id=crewed", headers=bob.headers))
    assert [v["user"] for v in history] == [{"name": "Bob"}, {"name": "Alice"}]


def test_workspace_list_pages_filters_and_owners(
    client: TestClient, admin: Account, alice: Account, bob: Account
) -> None:
    for i in range(32):
        create(client, alice, preset(f"p{i:02}", tags=("even",) if i % 2 == 0 else ()))
    create(client, bob, preset("bobs", access_grants=EVERYONE))
    create(client, bob, preset("hidden"))
    create(client, admin, {"id": "gpt-4o-mini", "name": "Mini", "meta": {}, "params": {}})

    first = ok(client.get(f"{M}/list", headers=alice.headers))
    assert first["total"] == 33 and len(first["items"]) == 30  # presets she may read, 30 a page
    second = ok(client.get(f"{M}/list?page=2", headers=alice.headers))
    assert len(second["items"]) == 3
    seen = {m["id"] for m in first["items"] + second["items"]}
    assert seen == {f"p{i:02}" for i in range(32)} | {"bobs"}  # no override, nothing private
    assert ok(client.get(f"{M}/list?page=3", headers=alice.headers))["items"] == []

    shared = ok(client.get(f"{M}/list?view_option=shared", headers=alice.headers))
    assert [m["id"] for m in shared["items"]] == ["bobs"]
    assert shared["items"][0]["user"]["email"] == "bob@example.com"
    assert shared["items"][0]["write_access"] is False
    # A read-only caller may use the preset, not copy its prompt (Open WebUI strips params).
    assert shared["items"][0]["params"] == {}
    assert ok(client.get(f"{M}/model?id=bobs", headers=alice.headers))["params"] == {}
    assert ok(client.get(f"{M}/model?id=bobs", headers=bob.headers))["params"] != {}
    mine = ok(client.get(f"{M}/list?view_option=created&tag=EVEN", headers=alice.headers))
    assert mine["total"] == 16
    named = ok(client.get(f"{M}/list?query=P0&order_by=name&direction=asc", headers=alice.headers))
    assert [m["id"] for m in named["items"]] == [f"p0{i}" for i in range(10)]
    assert client.get(f"{M}/list?page=0", headers=alice.headers).status_code == 422
    assert client.get(f"{M}/list?order_by=size", headers=alice.headers).status_code == 422
