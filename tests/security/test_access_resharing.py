"""Re-sharing through one's own collection: a grant must not outlive its revocation.

Alice's file reaches Bob only through her collection. Read access lets Bob read it, not put
it in collections of his own (403). With write access he may; when Alice takes that access
back, the file stops being readable through Bob's collection — for Bob and for everyone he
shared it with — on every path: the collection's file list, the files API, retrieval
queries and RAG chat.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account, signup
from tests.fakes.upstream import FakeUpstream
from wayline.core.settings import Settings

K = "/api/v1/knowledge"
SECRET = (
    "The vault combination for the Umbridge harbour office is seven three nine one, changed every "
    "solstice."
)


@pytest.fixture
def settings(gateway_settings: Settings) -> Settings:
    return gateway_settings


def grant(user_id: str, permission: str = "read") -> dict:
    return {"principal_type": "user", "principal_id": user_id, "permission": permission}


def share(client: TestClient, owner: Account, kid: str, *grants: dict) -> None:
    r = client.post(
        f"{K}/{kid}/access/update", json={"access_grants": list(grants)}, headers=owner.headers
    )
    assert r.status_code == 200, r.text


def new_collection(client: TestClient, owner: Account, *file_ids: str) -> str:
    r = client.post(
        f"{K}/create", json={"name": f"{owner.email}'s", "description": ""}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    for fid in file_ids:
        assert (
            client.post(
                f"{K}/{r.json()['id']}/file/add", json={"file_id": fid}, headers=owner.headers
            ).status_code
            == 200
        )
    return r.json()["id"]


def add(client: TestClient, account: Account, kid: str, fid: str):
    return client.post(f"{K}/{kid}/file/add", json={"file_id": fid}, headers=account.headers)


def reads_secret(
    client: TestClient, fake: FakeUpstream, account: Account, kid: str, fid: str
) -> dict[str, bool]:
    """Every way `account` could read the file through collection `kid`."""
    listing = client.get(f"{K}/{kid}/files", headers=account.headers).json()
    got = client.get(f"{K}/{kid}", headers=account.headers).json()
    counted = {
        k["id"]: k["file_count"]
        for k in client.get(f"{K}/", headers=account.headers).json()["items"]
    }
    query = client.post(
        "/api/v1/retrieval/query/collection",
        headers=account.headers,
        json={"collection_names": [kid], "query": "vault combination harbour office"},
    )
    assert query.status_code == 200, query.text
    chat = client.post(
        "/api/chat/completions",
        headers=account.headers,
        json={
            "model": "gpt-4-turbo",
            "messages": [{"role": "user", "content": "What is the vault combination?"}],
            "files": [{"type": "collection", "id": kid}],
        },
    )
    assert chat.status_code == 200, chat.text
    sent = fake.last("/v1/chat/completions").json["messages"]
    return {
        "file list": any(f["id"] == fid for f in listing["items"]),
        "collection": any(f["id"] == fid for f in got["files"]),
        "file count": counted.get(kid, 0) > 0,
        "files api": client.get(f"/api/v1/files/{fid}", headers=account.headers).status_code == 200,
        "query/doc": client.post(
            "/api/v1/retrieval/query/doc",
            headers=account.headers,
            json={"collection_name": f"file-{fid}", "query": "vault"},
        ).status_code
        == 200,
        "query/collection": SECRET in str(query.json()["documents"]),
        "rag chat": SECRET in str(sent),
    }


def test_resharing_through_own_collection_needs_write_and_ends_with_the_grant(
    client: TestClient,
    admin: Account,
    alice: Account,
    bob: Account,
    fake_upstream: FakeUpstream,
) -> None:
    carol = signup(client, "Carol", admin=admin)
    dave = signup(client, "Dave", admin=admin)  # reaches Bob's collection through "everyone"
    r = client.post(
        "/api/v1/files/?process_in_background=false",
        headers=alice.headers,
        files={"file": ("vault.txt", SECRET.encode(), "text/plain")},
    )
    assert r.status_code == 200, r.text
    fid = r.json()["id"]
    alices = new_collection(client, alice, fid)
    bobs = new_collection(client, bob)

    # Read access: Bob reads the file through Alice's collection, but may not re-share it.
    share(client, alice, alices, grant(bob.id))
    assert reads_secret(client, fake_upstream, bob, alices, fid)["rag chat"]
    r = add(client, bob, bobs, fid)
    assert r.status_code == 403 and fid in r.json()["detail"]
    r = client.post(f"{K}/{bobs}/files/batch/add", json=[{"file_id": fid}], headers=bob.headers)
    assert (
        r.status_code == 200
        and r.json()["files"] == []
        and fid in r.json()["warnings"]["errors"][0]
    )

    # Write access: he may add it to his own collection and share that with others.
    share(client, alice, alices, grant(bob.id, "write"))
    assert add(client, bob, bobs, fid).status_code == 200
    share(client, bob, bobs, grant(carol.id), grant("*"))
    for account in (bob, carol, dave):
        seen = reads_secret(client, fake_upstream, account, bobs, fid)
        assert {
            k: v for k, v in seen.items() if k not in ("files api", "query/doc")
        } == dict.fromkeys(
            ("file list", "collection", "file count", "query/collection", "rag chat"), True
        ), (account.email, seen)

    # Alice revokes: nobody reads her file through Bob's collection any more, on any path.
    share(client, alice, alices)
    for account in (bob, carol, dave):
        seen = reads_secret(client, fake_upstream, account, bobs, fid)
        assert not any(seen.values()), (account.email, seen)

    # Read access again is still not write access: Bob's link stays dead, Alice's collection
    # serves him.
    share(client, alice, alices, grant(bob.id))
    assert not any(reads_secret(client, fake_upstream, carol, bobs, fid).values())
    assert reads_secret(client, fake_upstream, bob, alices, fid)["query/collection"]


def test_resharing_a_writer_adds_own_files_to_a_shared_collection(
    client: TestClient,
    alice: Account,
    bob: Account,
    fake_upstream: FakeUpstream,
) -> None:
    """The rule does not break collaboration: a named writer's own file is served to the readers."""
    r = client.post(
        "/api/v1/files/?process_in_background=false",
        headers=bob.headers,
        files={"file": ("vault.txt", SECRET.encode(), "text/plain")},
    )
    fid = r.json()["id"]
    alices = new_collection(client, alice)
    share(client, alice, alices, grant(bob.id, "write"))
    assert add(client, bob, alices, fid).status_code == 200
    seen = reads_secret(client, fake_upstream, alice, alices, fid)
    assert seen["file list"] and seen["query/collection"] and seen["rag chat"], seen
