"""Many users at once on SQLite: uploads of already-seen bytes (the de-duplication path copies the
twin's chunks: a read, then a write) racing with links into collections must all complete.

Half the uploads are stored only (`process=false`) and then indexed into their collection with
`/api/v1/retrieval/process/file`; the others are indexed in the background and linked with
`/knowledge/{id}/file/add` while that runs. Before writes took the lock up front (BEGIN
IMMEDIATE), a transaction that read and then wrote after another connection's commit was
refused at once with "database is locked": uploads answered 500 and files ended `failed`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.conftest import Account, LiveServer, signup

TEXT = (
    "Albatrosses glide for hours on the winds of the southern ocean, "
    "sleeping on the wing and landing only to breed. "
) * 20
PARALLEL = 16


def test_duplicate_uploads_and_collection_adds_in_parallel_all_complete(
    live_server: LiveServer, tmp_path: Path
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        admin = signup(http, "Admin")
        first = http.post(
            "/api/v1/files/?process_in_background=false",
            files={"file": ("seen.txt", TEXT.encode())},
            headers=admin.headers,
        )
        assert first.status_code == 200 and first.json()["data"]["status"] == "completed", (
            first.text
        )
        users = [
            signup(http, f"User{i}", admin=admin) for i in range(PARALLEL)
        ]  # many users at once
        collections = [
            http.post(
                "/api/v1/knowledge/create",
                json={"name": f"birds {i}", "description": ""},
                headers=user.headers,
            ).json()["id"]
            for i, user in enumerate(users)
        ]

    async def upload_and_link(
        http: httpx.AsyncClient, user: Account, collection: str, i: int
    ) -> tuple[str, int, str]:
        stored_only = i % 2 == 1
        query = "?process=false" if stored_only else ""
        resp = await http.post(
            f"/api/v1/files/{query}",
            files={"file": (f"copy-{i}.txt", TEXT.encode())},
            headers=user.headers,
        )
        assert resp.status_code == 200, resp.text
        file_id = resp.json()["id"]
        if stored_only:
            linked = await http.post(
                "/api/v1/retrieval/process/file",
                headers=user.headers,
                json={"file_id": file_id, "collection_name": collection},
            )
        else:
            linked = await http.post(
                f"/api/v1/knowledge/{collection}/file/add",
                json={"file_id": file_id},
                headers=user.headers,
            )
        return file_id, linked.status_code, linked.text

    async def run() -> list[tuple[str, int, str]]:
        async with httpx.AsyncClient(base_url=live_server.url, timeout=120) as http:
            pairs = enumerate(zip(users, collections, strict=True))
            return await asyncio.gather(
                *(upload_and_link(http, user, c, i) for i, (user, c) in pairs)
            )

    results = asyncio.run(run())
    assert [code for _, code, _ in results] == [200] * PARALLEL, [
        text for _, code, text in results if code != 200
    ]

    with httpx.Client(base_url=live_server.url, headers=admin.headers, timeout=60) as http:
        deadline = time.monotonic() + 120
        for file_id, _, _ in results:
            while (status := http.get(f"/api/v1/files/{file_id}/process/status").json())[
                "status"
            ] in ("pending", "processing"):
                assert time.monotonic() < deadline, status
                time.sleep(0.1)
            assert status["status"] == "completed", status
        for user, collection, (file_id, _, _) in zip(users, collections, results, strict=True):
            files = http.get(f"/api/v1/knowledge/{collection}/files", headers=user.headers).json()
            assert [f["id"] for f in files["items"]] == [file_id]

    # Not even a retried conflict: writers queue for the lock instead of failing and starting over.
    log = (tmp_path / f"server-{live_server.url.rsplit(':', 1)[1]}.log").read_text()
    assert "database is locked" not in log, log[-4000:]
