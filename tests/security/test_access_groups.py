"""Grants to groups: a collection or a preset shared with a group reaches its members (members of
groups below it too) and nobody else, and stops reaching a member the moment they leave the
group, the grant is revoked or the group is deleted. A write grant to a group lets its members
add files, which the collection then serves while they remain members. Parallel membership
changes leave one consistent member list."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account, signup
from tests.fakes.upstream import FakeUpstream
from wayline.core.settings import Settings

K = "/api/v1/knowledge"
G = "/api/v1/groups"
SECRET = "The launch code for the Tromsø observatory dome is four four two seven."


@pytest.fixture
def settings(gateway_settings: Settings) -> Settings:
    return gateway_settings


def to_group(gid: str, permission: str = "read") -> dict:
    return {"principal_type": "group", "principal_id": gid, "permission": permission}


def new_group(client: TestClient, admin: Account, name: str, *members: Account, **fields) -> str:
    r = client.post(f"{G}/create", json={"name": name, **fields}, headers=admin.headers)
    assert r.status_code == 200, r.text
    gid = r.json()["id"]
    if members:
        set_members(client, admin, gid, "add", *members)
    return gid


def set_members(client: TestClient, admin: Account, gid: str, how: str, *members: Account) -> None:
    r = client.post(
        f"{G}/id/{gid}/users/{how}",
        json={"user_ids": [m.id for m in members]},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text


def upload(client: TestClient, account: Account, text: str = SECRET) -> str:
    r = client.post(
        "/api/v1/files/?process_in_background=false",
        headers=account.headers,
        files={"file": ("note.txt", text.encode(), "text/plain")},
    )
    assert r.status_code == 200, r.text
    return r.json()["id"]


def collection(
    client: TestClient, owner: Account, *grants: dict, files: tuple[str, ...] = ()
) -> str:
    r = client.post(
        f"{K}/create", json={"name": "Shared", "access_grants": list(grants)}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    kid = r.json()["id"]
    for fid in files:
        assert client.post(
            f"{K}/{kid}/file/add", json={"file_id": fid}, headers=owner.headers
        ).is_success
    return kid


def reads(client: TestClient, fake: FakeUpstream, account: Account, kid: str) -> dict[str, bool]:
    """Every way `account` could reach the collection's content."""
    listed = client.get(f"{K}/", headers=account.headers).json()["items"]
    query = client.post(
        "/api/v1/retrieval/query/collection",
        headers=account.headers,
        json={"collection_names": [kid], "query": "launch code observatory"},
    )
    chat = client.post(
        "/api/chat/completions",
        headers=account.headers,
        json={
            "model": "gpt-4-turbo",
            "messages": [{"role": "user", "content": "What is the launch code?"}],
            "files": [{"type": "collection", "id": kid}],
        },
    )
    return {
        "get": client.get(f"{K}/{kid}", headers=account.headers).status_code == 200,
        "list": any(k["id"] == kid for k in listed),
        "query": query.status_code == 200 and SECRET in str(query.json()),
        "rag chat": chat.status_code == 200
        and SECRET in str(fake.last("/v1/chat/completions").json),
    }


def test_a_collection_shared_with_a_group_reaches_members_only_and_only_while_they_are(
    client: TestClient, admin: Account, alice: Account, bob: Account, fake_upstream: FakeUpstream
) -> None:
    carol = signup(client, "Carol", admin=admin)
    gid = new_group(client, admin, "Readers", bob)
    kid = collection(client, alice, to_group(gid), files=(upload(client, alice),))
    everything = dict.fromkeys(("get", "list", "query", "rag chat"), True)
    nothing = dict.fromkeys(everything, False)

    assert reads(client, fake_upstream, bob, kid) == everything
    assert reads(client, fake_upstream, carol, kid) == nothing
    # Read is not write.
    r = client.post(f"{K}/{kid}/update", json={"name": "Mine now"}, headers=bob.headers)
    assert r.status_code == 403

    # Removed from the group: no access on his very next request.
    set_members(client, admin, gid, "remove", bob)
    assert reads(client, fake_upstream, bob, kid) == nothing
    set_members(client, admin, gid, "add", bob)
    assert reads(client, fake_upstream, bob, kid) == everything

    # The grant revoked: the same.
    r = client.post(f"{K}/{kid}/access/update", json={"access_grants": []}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert reads(client, fake_upstream, bob, kid) == nothing

    # A group deleted takes its grants with it: re-creating a group does not revive them.
    client.post(
        f"{K}/{kid}/access/update", json={"access_grants": [to_group(gid)]}, headers=alice.headers
    )
    assert reads(client, fake_upstream, bob, kid)["get"]
    assert client.delete(f"{G}/id/{gid}/delete", headers=admin.headers).json() is True
    assert reads(client, fake_upstream, bob, kid) == nothing
    assert client.get(f"{K}/{kid}", headers=alice.headers).json()["access_grants"] == []


def test_a_grant_to_a_parent_group_reaches_members_of_groups_below_it(
    client: TestClient, admin: Account, alice: Account, bob: Account, fake_upstream: FakeUpstream
) -> None:
    company = new_group(client, admin, "Company")
    team = new_group(client, admin, "Team", bob, parent_group_id=company)
    kid = collection(client, alice, to_group(company))
    assert client.get(f"{K}/{kid}", headers=bob.headers).status_code == 200
    # The team moved out from under the company: its members no longer belong to it.
    r = client.post(
        f"{G}/id/{team}/update",
        json={"name": "Team", "parent_group_id": None},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    assert client.get(f"{K}/{kid}", headers=bob.headers).status_code == 404


def test_a_preset_shared_with_a_group_is_usable_by_members_only(
    client: TestClient, admin: Account, alice: Account, bob: Account, fake_upstream: FakeUpstream
) -> None:
    carol = signup(client, "Carol", admin=admin)
    gid = new_group(client, admin, "Pirates", bob)
    preset = {
        "id": "pirate",
        "base_model_id": "gpt-4-turbo",
        "name": "Pirate",
        "params": {"system": "Talk like a pirate."},
        "access_grants": [to_group(gid)],
    }
    r = client.post("/api/v1/models/create", json=preset, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["access_grants"] == [to_group(gid)]

    def uses(account: Account) -> dict[str, bool]:
        listed = client.get("/api/models", headers=account.headers).json()["data"]
        items = client.get("/api/v1/models/list", headers=account.headers).json()["items"]
        chat = client.post(
            "/api/chat/completions",
            headers=account.headers,
            json={"model": "pirate", "messages": [{"role": "user", "content": "hi"}]},
        )
        return {
            "listed": any(m["id"] == "pirate" for m in listed),
            "workspace": any(m["id"] == "pirate" for m in items),
            "chat": chat.status_code == 200
            and "Talk like a pirate." in str(fake_upstream.last("/v1/chat/completions").json),
        }

    assert uses(bob) == {"listed": True, "workspace": True, "chat": True}
    assert not any(uses(carol).values())
    set_members(client, admin, gid, "remove", bob)
    assert not any(uses(bob).values())
    set_members(client, admin, gid, "add", bob)
    assert all(uses(bob).values())
    r = client.post(
        "/api/v1/models/model/update?id=pirate",
        json={**preset, "access_grants": []},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert not any(uses(bob).values())


def test_a_write_grant_to_a_group_lets_members_add_files_served_while_they_are_members(
    client: TestClient, admin: Account, alice: Account, bob: Account, fake_upstream: FakeUpstream
) -> None:
    carol = signup(client, "Carol", admin=admin)
    writers = new_group(client, admin, "Writers", bob)
    readers = new_group(client, admin, "Readers", carol)
    kid = collection(client, alice, to_group(writers, "write"), to_group(readers))
    fid = upload(client, bob)

    r = client.post(f"{K}/{kid}/file/add", json={"file_id": fid}, headers=bob.headers)
    assert r.status_code == 200, r.text
    assert [f["id"] for f in r.json()["files"]] == [fid]
    for account in (alice, carol):
        assert reads(client, fake_upstream, account, kid)["query"], account.email
    # A reader may not add files.
    r = client.post(
        f"{K}/{kid}/file/add", json={"file_id": upload(client, carol)}, headers=carol.headers
    )
    assert r.status_code == 403

    # Bob leaves the writers: his file is no longer served through the collection, to anyone,
    # and he may no longer add files.
    set_members(client, admin, writers, "remove", bob)
    for account in (alice, carol):
        seen = reads(client, fake_upstream, account, kid)
        assert not seen["query"] and not seen["rag chat"], (account.email, seen)
    assert client.get(f"{K}/{kid}/files", headers=alice.headers).json()["items"] == []
    r = client.post(
        f"{K}/{kid}/file/add", json={"file_id": upload(client, bob)}, headers=bob.headers
    )
    assert r.status_code == 404  # he cannot even see the collection now


def test_resharing_through_a_group_write_grant(
    client: TestClient, admin: Account, alice: Account, bob: Account, fake_upstream: FakeUpstream
) -> None:
    """Alice's collection grants write to a group: its member Bob may put her file in his own
    collection, which serves it until Alice revokes that grant."""
    carol = signup(client, "Carol", admin=admin)
    gid = new_group(client, admin, "Editors", bob)
    fid = upload(client, alice)
    alices = collection(client, alice, to_group(gid, "write"), files=(fid,))
    bobs = collection(client, bob, {"principal_type": "user", "principal_id": carol.id})
    r = client.post(f"{K}/{bobs}/file/add", json={"file_id": fid}, headers=bob.headers)
    assert r.status_code == 200, r.text
    assert reads(client, fake_upstream, carol, bobs)["query"]
    client.post(f"{K}/{alices}/access/update", json={"access_grants": []}, headers=alice.headers)
    assert not reads(client, fake_upstream, carol, bobs)["query"]


def test_grants_naming_unknown_groups_are_refused_and_write_nothing(
    client: TestClient, alice: Account
) -> None:
    r = client.post(
        f"{K}/create",
        json={"name": "x", "access_grants": [to_group("no-such-group")]},
        headers=alice.headers,
    )
    assert r.status_code == 400 and "no-such-group" in r.json()["detail"]
    assert client.get(f"{K}/", headers=alice.headers).json()["total"] == 0
    kid = collection(client, alice)
    r = client.post(
        f"{K}/{kid}/access/update",
        json={"access_grants": [to_group("ghost")]},
        headers=alice.headers,
    )
    assert r.status_code == 400 and "ghost" in r.json()["detail"]
    assert client.get(f"{K}/{kid}", headers=alice.headers).json()["access_grants"] == []
    model = {
        "id": "p",
        "base_model_id": "gpt-4-turbo",
        "name": "P",
        "access_grants": [to_group("ghost")],
    }
    r = client.post("/api/v1/models/create", json=model, headers=alice.headers)
    assert r.status_code == 400 and "ghost" in r.json()["detail"]
    assert client.get("/api/v1/models/list", headers=alice.headers).json()["items"] == []


def test_parallel_membership_changes_leave_one_consistent_member_list(live_server_factory) -> None:
    server = live_server_factory()
    with httpx.Client(base_url=server.url) as http:
        admin = signup(http, "Admin")
        users = [signup(http, f"User{i}", admin=admin) for i in range(8)]
        gid = http.post(f"{G}/create", json={"name": "Crowd"}, headers=admin.headers).json()["id"]

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            # Twenty clients add overlapping sets of the same eight users at once.
            calls = [
                client.post(
                    f"{G}/id/{gid}/users/add",
                    json={"user_ids": [u.id for u in users[i % 4 : i % 4 + 5]]},
                    headers=admin.headers,
                )
                for i in range(20)
            ]
            return list(await asyncio.gather(*calls))

    answers = asyncio.run(run())
    assert [r.status_code for r in answers] == [200] * 20, [r.text for r in answers]
    exported = httpx.get(f"{server.url}{G}/id/{gid}/export", headers=admin.headers).json()
    assert sorted(exported["user_ids"]) == sorted(u.id for u in users)
    assert exported["member_count"] == len(users)
    members = httpx.get(f"{server.url}{G}/id/{gid}/members", headers=admin.headers).json()
    assert members["total"] == len(users) and members["counts"]["direct"] == len(users)
    # Every member sees the group on their next request.
    for user in users:
        mine = httpx.get(f"{server.url}{G}/", headers=user.headers).json()
        assert [g["id"] for g in mine] == [gid]


def test_a_removal_on_one_worker_ends_access_on_another(make_settings, make_client) -> None:
    """Credentials (and the groups they carry) are cached per worker for an hour here; the
    membership change travels on the shared bus, so worker B checks the next request afresh."""
    prefix = f"wl-test-{uuid.uuid4().hex[:8]}"
    shared = dict(
        REDIS_URL="redis://127.0.0.1:6379/0",
        REDIS_KEY_PREFIX=prefix,
        UVICORN_WORKERS=2,
        AUTH_CACHE_TTL=3600,
    )
    worker_a = make_client(make_settings(**shared))
    worker_b = make_client(make_settings(**shared))
    admin = signup(worker_a, "Admin")
    alice = signup(worker_a, "Alice", admin=admin)
    bob = signup(worker_a, "Bob", admin=admin)
    gid = new_group(worker_a, admin, "Readers", bob)
    kid = collection(worker_a, alice, to_group(gid))
    assert worker_b.get(f"{K}/{kid}", headers=bob.headers).status_code == 200  # cached on B

    set_members(worker_a, admin, gid, "remove", bob)
    for _ in range(50):  # the message arrives within a few event-loop turns
        if worker_b.get(f"{K}/{kid}", headers=bob.headers).status_code == 404:
            break
        time.sleep(0.02)
    assert worker_b.get(f"{K}/{kid}", headers=bob.headers).status_code == 404
