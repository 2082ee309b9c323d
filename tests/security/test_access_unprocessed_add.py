"""Adding a not-yet-processed file (uploaded with `process=false`) to a collection.

Nothing will ever index such a file by itself, so the add is refused at once with 400
saying why and what to do (Open WebUI: 400 "Extracted content is not available…"); it used
to hold the database's write lock while it waited, answer 500 and stall every other write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient

from tests.conftest import Account, LiveServer, signup

K = "/api/v1/knowledge"


def stored_only(http: TestClient | httpx.Client, account: Account) -> str:
    r = http.post(
        "/api/v1/files/?process=false",
        headers=account.headers,
        files={
            "file": ("later.txt", b"The lighthouse keeper logs every passing ship.", "text/plain")
        },
    )
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_unprocessed_add_is_refused_with_the_reason_and_links_nothing(
    client: TestClient, alice: Account
) -> None:
    fid = stored_only(client, alice)
    kid = client.post(f"{K}/create", json={"name": "ships"}, headers=alice.headers).json()["id"]

    r = client.post(f"{K}/{kid}/file/add", json={"file_id": fid}, headers=alice.headers)
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert (
        fid in detail and "process=false" in detail and "/api/v1/retrieval/process/file" in detail
    )
    r = client.post(f"{K}/{kid}/files/batch/add", json=[{"file_id": fid}], headers=alice.headers)
    assert r.status_code == 200 and "process=false" in r.json()["warnings"]["errors"][0]
    assert client.get(f"{K}/{kid}/files", headers=alice.headers).json()["total"] == 0
    # The file is left as it was: stored, not queued for indexing behind the user's back.
    assert (
        client.get(f"/api/v1/files/{fid}/process/status", headers=alice.headers).json()["status"]
        == "pending"
    )
    assert client.get(f"/api/v1/files/{fid}", headers=alice.headers).json()["data"] == {}

    # The way out the message names works: it indexes the file and adds it to the collection.
    r = client.post(
        "/api/v1/retrieval/process/file",
        json={"file_id": fid, "collection_name": kid},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert [
        f["id"] for f in client.get(f"{K}/{kid}/files", headers=alice.headers).json()["items"]
    ] == [fid]


def test_unprocessed_add_does_not_stall_other_writes(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    # A long wait bound: the old code waited for the file inside the write transaction.
    server = live_server_factory(KNOWLEDGE_ADD_WAIT_SECONDS="600")
    with httpx.Client(base_url=server.url) as http:
        alice = signup(http, "Alice")
        fid = stored_only(http, alice)
        kid = http.post(f"{K}/create", json={"name": "ships"}, headers=alice.headers).json()["id"]

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=server.url, headers=alice.headers, timeout=60
        ) as http:
            return list(
                await asyncio.gather(
                    http.post(f"{K}/{kid}/file/add", json={"file_id": fid}),
                    *(http.post(f"{K}/create", json={"name": f"other {i}"}) for i in range(5)),
                )
            )

    added, *created = asyncio.run(run())
    assert added.status_code == 400 and "process=false" in added.json()["detail"], added.text
    assert [r.status_code for r in created] == [200] * 5, [r.text for r in created]
    assert httpx.get(server.url + f"{K}/", headers=alice.headers).json()["total"] == 6
