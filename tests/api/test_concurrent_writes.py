"""Concurrent writers against one server: nothing fails and nothing is lost.

SQLite refuses a transaction that read before writing when another connection committed
in between ("database is locked"); these requests interleave uploads, indexing and
collection links on purpose.
"""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import signup

TEXTS = [
    f"Document {i}: the {word} migrates across the {place} every {season}."
    for i, (word, place, season) in enumerate(
        [
            ("albatross", "southern ocean", "winter"),
            ("caribou", "tundra", "spring"),
            ("monarch butterfly", "gulf coast", "autumn"),
            ("wildebeest", "serengeti", "summer"),
            ("salmon", "pacific rivers", "fall"),
            ("swallow", "sahara", "march"),
        ]
    )
]


def test_parallel_process_text_and_uploads_all_complete(live_server):
    alice = signup(httpx.Client(base_url=live_server.url), "Alice")
    kid = httpx.post(
        live_server.url + "/api/v1/knowledge/create",
        json={"name": "birds", "description": ""},
        headers=alice.headers,
    ).json()["id"]

    async def run() -> tuple[list[httpx.Response], list[httpx.Response]]:
        async with httpx.AsyncClient(
            base_url=live_server.url, headers=alice.headers, timeout=120
        ) as http:
            texts = [
                http.post(
                    "/api/v1/retrieval/process/text",
                    json={"name": f"t{i}", "content": t, "collection_name": kid},
                )
                for i, t in enumerate(TEXTS)
            ]
            uploads = [
                http.post(
                    "/api/v1/files/?process_in_background=false",
                    files={"file": (f"u{i}.txt", (t + " Uploaded.").encode(), "text/plain")},
                )
                for i, t in enumerate(TEXTS)
            ]
            done = await asyncio.gather(*texts, *uploads)
            return list(done[: len(TEXTS)]), list(done[len(TEXTS) :])

    processed, uploaded = asyncio.run(run())
    assert [r.status_code for r in processed + uploaded] == [200] * (2 * len(TEXTS)), [
        r.text for r in processed + uploaded
    ]

    files = httpx.get(live_server.url + "/api/v1/files/", headers=alice.headers).json()["items"]
    assert len(files) == 2 * len(TEXTS)
    for item in files:
        status = httpx.get(
            f"{live_server.url}/api/v1/files/{item['id']}/process/status", headers=alice.headers
        ).json()
        assert status["status"] == "completed", (item["filename"], status)
    linked = httpx.get(
        f"{live_server.url}/api/v1/knowledge/{kid}/files", headers=alice.headers
    ).json()
    assert linked["total"] == len(TEXTS)
