"""`/api/v1/files`: upload → extract → chunk → embed → index, through the real app."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import Account
from tests.fakes import documents
from wayline.files.service import FilesRuntime

TEXT = ("The boundary layer on a swept wing thickens towards the tip. " * 30 + "\n\n") * 4


def upload(
    client: TestClient,
    who: Account,
    name: str,
    data: bytes,
    ctype: str | None = None,
    **params: Any,
):
    files = {"file": (name, data, ctype) if ctype else (name, data)}
    query = "&".join(f"{k}={str(v).lower()}" for k, v in params.items())
    return client.post(f"/api/v1/files/?{query}", files=files, headers=who.headers)


def wait_done(
    client: TestClient, who: Account, file_id: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/files/{file_id}/process/status", headers=who.headers).json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"file {file_id} still {body} after {timeout} s")


def chunks(client: TestClient, file_id: str) -> list[tuple[str, dict[str, Any]]]:
    async def read() -> list[tuple[str, dict[str, Any]]]:
        async with client.app.state.wayline.core.db.sessionmaker() as session:
            rows = (
                await session.execute(
                    text("SELECT text, meta FROM chunk WHERE file_id = :f ORDER BY idx"),
                    {"f": file_id},
                )
            ).all()
            return [
                (r.text, r.meta if isinstance(r.meta, dict) else json.loads(r.meta)) for r in rows
            ]

    return client.portal.call(read)


def uploads_dir(client: TestClient) -> list[Path]:
    return sorted(Path(client.app.state.wayline.get(FilesRuntime).blobs.root).iterdir())


def test_upload_shape_processing_and_reads(client: TestClient, alice: Account) -> None:
    data = TEXT.encode()
    resp = upload(client, alice, "notes.txt", data, "text/plain")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (
        body["status"] is True and body["user_id"] == alice.id and body["filename"] == "notes.txt"
    )
    assert body["hash"] is None and body["data"] == {"status": "pending"}
    assert body["path"].endswith("_notes.txt")
    assert body["meta"]["name"] == "notes.txt" and body["meta"]["content_type"] == "text/plain"
    assert (
        body["meta"]["size"] == len(data)
        and body["meta"]["file_hash"] == hashlib.sha256(data).hexdigest()
    )
    assert body["meta"]["data"] == {}
    file_id = body["id"]

    status = wait_done(client, alice, file_id)
    assert status["status"] == "completed"
    assert (
        status["progress"]["total"] > 1
        and status["progress"]["done"] == status["progress"]["total"]
    )

    full = client.get(f"/api/v1/files/{file_id}", headers=alice.headers).json()
    assert full["data"]["status"] == "completed"
    assert full["data"]["content"] == TEXT.strip("\n") or full["data"]["content"] == TEXT
    assert full["hash"] == hashlib.sha256(full["data"]["content"].encode()).hexdigest()
    assert full["meta"]["collection_name"] == f"file-{file_id}"
    assert client.get(f"/api/v1/files/{file_id}/data/content", headers=alice.headers).json() == {
        "content": full["data"]["content"]
    }

    rows = chunks(client, file_id)
    assert len(rows) == status["progress"]["total"]
    assert all(len(t) <= 1000 for t, _ in rows)
    meta = rows[1][1]
    assert (
        meta["file_id"] == file_id and meta["name"] == "notes.txt" and meta["source"] == "notes.txt"
    )
    assert meta["created_by"] == alice.id and meta["hash"] == full["hash"]
    assert meta["embedding_config"] == {
        "engine": "local",
        "model": "sentence-transformers/all-MiniLM-L6-v2",
    }
    assert full["data"]["content"][meta["start_index"] :].startswith(rows[1][0])

    raw = client.get(f"/api/v1/files/{file_id}/content", headers=alice.headers)
    assert raw.status_code == 200 and raw.content == data
    assert raw.headers["content-type"].startswith("text/plain") and raw.headers[
        "content-disposition"
    ].startswith("inline")
    att = client.get(f"/api/v1/files/{file_id}/content?attachment=true", headers=alice.headers)
    assert (
        att.headers["content-disposition"].startswith("attachment")
        and "notes.txt" in att.headers["content-disposition"]
    )


def test_vector_and_text_search_find_the_chunks(client: TestClient, alice: Account) -> None:
    a = upload(
        client,
        alice,
        "wings.md",
        b"# Wings\n\nSwept wings delay compressibility drag at transonic speeds.",
    ).json()["id"]
    b = upload(
        client, alice, "cooking.md", b"# Bread\n\nKnead the dough and let it rise overnight."
    ).json()["id"]
    assert (
        wait_done(client, alice, a)["status"]
        == wait_done(client, alice, b)["status"]
        == "completed"
    )
    state = client.app.state.wayline
    files = state.get(FilesRuntime)

    async def search() -> tuple[list[Any], list[Any], list[Any]]:
        async with state.core.db.sessionmaker() as session:
            query = await files.embedder.embed_query("why are aircraft wings swept back?")
            vec = await files.index.search(session, [a, b], query, 2)
            bm25 = await files.index.search_text(session, [a, b], "what makes bread dough rise", 2)
            scoped = await files.index.search(session, [b], query, 5)
            texts = await files.index.fetch(session, [bm25[0].chunk_id, 10**9])
            return vec, bm25, scoped, texts

    vec, bm25, scoped, texts = client.portal.call(search)
    assert vec[0].file_id == a and vec[0].score > vec[1].score
    assert bm25[0].file_id == b
    assert list(texts) == [bm25[0].chunk_id]  # an unknown id is left out
    text, meta = texts[bm25[0].chunk_id]
    assert "dough" in text and meta["file_id"] == b
    assert {h.file_id for h in scoped} == {b}


def test_listing_is_paginated_and_scoped(
    client: TestClient, admin: Account, alice: Account, bob: Account
) -> None:
    for i in range(3):
        assert (
            upload(
                client, alice, f"a{i}.txt", f"alice file {i}".encode(), process="false"
            ).status_code
            == 200
        )
    upload(client, bob, "b.txt", b"bob file", process="false")
    mine = client.get("/api/v1/files/", headers=alice.headers).json()
    assert mine["total"] == 3 and {f["user_id"] for f in mine["items"]} == {alice.id}
    assert all(f["data"] == {} for f in mine["items"])  # process=false: stored, not indexed
    assert client.get("/api/v1/files/", headers=bob.headers).json()["total"] == 1
    assert client.get("/api/v1/files/", headers=admin.headers).json()["total"] == 4
    assert client.get("/api/v1/files/?page=2", headers=alice.headers).json() == {
        "items": [],
        "total": 3,
    }
    assert client.get("/api/v1/files/?page=0", headers=alice.headers).status_code == 422


def test_another_user_cannot_see_or_touch_a_file(
    client: TestClient, admin: Account, alice: Account, bob: Account
) -> None:
    file_id = upload(
        client, alice, "secret.txt", b"alice's secret plans", process_in_background="false"
    ).json()["id"]
    for path in ("", "/content", "/data/content", "/process/status", "/process/status?stream=true"):
        resp = client.get(f"/api/v1/files/{file_id}{path}", headers=bob.headers)
        assert resp.status_code == 404, path
        assert "secret" not in resp.text
    assert (
        client.post(
            f"/api/v1/files/{file_id}/data/content/update",
            json={"content": "hijacked"},
            headers=bob.headers,
        ).status_code
        == 404
    )
    assert client.delete(f"/api/v1/files/{file_id}", headers=bob.headers).status_code == 404
    assert client.delete("/api/v1/files/all", headers=bob.headers).status_code == 401
    assert client.get(f"/api/v1/files/{file_id}/data/content", headers=alice.headers).json() == {
        "content": "alice's secret plans"
    }
    assert (
        client.get(f"/api/v1/files/{file_id}", headers=admin.headers).status_code == 200
    )  # admins may
    assert client.get("/api/v1/files/", headers=bob.headers).json()["total"] == 0


def test_delete_removes_blob_row_and_chunks(client: TestClient, alice: Account) -> None:
    file_id = upload(client, alice, "doc.txt", TEXT.encode(), process_in_background="false").json()[
        "id"
    ]
    assert chunks(client, file_id) and len(uploads_dir(client)) == 1
    assert client.delete(f"/api/v1/files/{file_id}", headers=alice.headers).json() == {
        "message": "File deleted successfully"
    }
    assert client.get(f"/api/v1/files/{file_id}", headers=alice.headers).status_code == 404
    assert chunks(client, file_id) == [] and uploads_dir(client) == []
    assert client.delete(f"/api/v1/files/{file_id}", headers=alice.headers).status_code == 404


def test_delete_all_is_admin_only(client: TestClient, admin: Account, alice: Account) -> None:
    ids = [
        upload(client, who, "x.txt", b"some words", process_in_background="false").json()["id"]
        for who in (admin, alice)
    ]
    assert client.delete("/api/v1/files/all", headers=alice.headers).status_code == 401
    assert client.delete("/api/v1/files/all", headers=admin.headers).json() == {
        "message": "All files deleted successfully"
    }
    assert client.get("/api/v1/files/", headers=admin.headers).json()["total"] == 0
    assert all(chunks(client, i) == [] for i in ids) and uploads_dir(client) == []


@pytest.mark.parametrize(
    ("name", "data", "status", "reason"),
    [
        ("empty.txt", b"", 422, "empty"),
        ("noise.bin", bytes(range(256)) * 64, 415, "Unsupported file type"),
        (
            "setup.pdf",
            b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)) * 32,
            422,
            "not a valid PDF",
        ),
        ("locked.pdf", documents.encrypted_pdf(["classified"]), 422, "encrypted"),
        ("bomb.docx", documents.zip_bomb_docx(), 422, "zip bomb"),
        ("broken.docx", b"PK\x03\x04 definitely not a real archive", 422, "not a valid DOCX"),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, 415, "not supported"),
    ],
)
def test_bad_files_fail_clearly_and_leave_nothing(
    client: TestClient, alice: Account, name: str, data: bytes, status: int, reason: str
) -> None:
    resp = upload(client, alice, name, data, process_in_background="false")
    assert resp.status_code == status, resp.text
    assert reason in resp.json()["detail"]
    assert client.get("/api/v1/files/", headers=alice.headers).json()["total"] == 0
    assert uploads_dir(client) == []


def test_bad_file_in_background_ends_failed_without_chunks(
    client: TestClient, alice: Account
) -> None:
    file_id = upload(client, alice, "locked.pdf", documents.encrypted_pdf(["classified"])).json()[
        "id"
    ]
    status = wait_done(client, alice, file_id)
    assert status["status"] == "failed" and "encrypted" in status["error"]
    full = client.get(f"/api/v1/files/{file_id}", headers=alice.headers).json()
    assert (
        full["data"]["status"] == "failed"
        and "encrypted" in full["data"]["error"]
        and full["hash"] is None
    )
    assert chunks(client, file_id) == []


def test_oversize_upload_is_refused_before_storing(make_settings, make_client) -> None:
    from tests.conftest import signup

    client = make_client(make_settings(RAG_FILE_MAX_SIZE=1))
    admin = signup(client, "Admin")
    big = b"a" * (1024 * 1024 + 1)
    resp = upload(client, admin, "big.txt", big)
    assert resp.status_code == 413 and "1 MB" in resp.json()["detail"]
    huge = b"a" * (3 * 1024 * 1024)  # refused from Content-Length, before the body is read
    assert upload(client, admin, "huge.txt", huge).status_code == 413
    assert client.get("/api/v1/files/", headers=admin.headers).json()["total"] == 0
    assert uploads_dir(client) == []
    assert upload(client, admin, "small.txt", b"a" * 1000).status_code == 200


def test_bad_requests(client: TestClient, alice: Account) -> None:
    resp = client.post(
        "/api/v1/files/",
        files={"file": ("a.txt", b"hi")},
        data={"metadata": "{not json"},
        headers=alice.headers,
    )
    assert resp.status_code == 400 and "metadata" in resp.json()["detail"]
    resp = client.post("/api/v1/files/", data={"other": "x"}, headers=alice.headers)
    assert resp.status_code == 422 and "file" in resp.json()["detail"]
    assert client.get("/api/v1/files/", headers=alice.headers).json()["total"] == 0
    resp = client.post(
        "/api/v1/files/",
        files={"file": ("a.txt", b"hi")},
        data={"metadata": '{"language": "en"}'},
        headers=alice.headers,
    )
    assert resp.json()["meta"]["data"] == {"language": "en"}
    assert client.post("/api/v1/files/", files={"file": ("a.txt", b"hi")}).status_code == 401


def test_disallowed_extension(make_settings, make_client) -> None:
    from tests.conftest import signup

    client = make_client(make_settings(RAG_ALLOWED_FILE_EXTENSIONS="txt,md"))
    admin = signup(client, "Admin")
    resp = upload(client, admin, "script.py", b"print(1)")
    assert resp.status_code == 400 and "py" in resp.json()["detail"]
    assert upload(client, admin, "ok.md", b"# fine").status_code == 200


def test_identical_bytes_reuse_the_indexed_chunks(
    client: TestClient, alice: Account, bob: Account
) -> None:
    runner = client.app.state.wayline.get(FilesRuntime).ingestion
    calls: list[int] = []
    original = runner.embedder.embed_documents

    async def counting(texts):  # instrument: count texts sent to the model
        calls.append(len(texts))
        return await original(texts)

    runner.embedder.embed_documents = counting
    try:
        first = upload(
            client, alice, "report.txt", TEXT.encode(), process_in_background="false"
        ).json()
        embedded = sum(calls)
        second = upload(
            client, bob, "copy.txt", TEXT.encode(), process_in_background="false"
        ).json()
    finally:
        runner.embedder.embed_documents = original
    assert embedded > 0 and sum(calls) == embedded  # nothing re-embedded
    one, two = chunks(client, first["id"]), chunks(client, second["id"])
    assert [t for t, _ in one] == [t for t, _ in two]
    assert {m["file_id"] for _, m in two} == {second["id"]} and {m["name"] for _, m in two} == {
        "copy.txt"
    }
    assert {m["created_by"] for _, m in two} == {bob.id}
    body = client.get(f"/api/v1/files/{second['id']}", headers=bob.headers).json()
    assert (
        body["data"]["content"]
        and body["hash"]
        == client.get(f"/api/v1/files/{first['id']}", headers=alice.headers).json()["hash"]
    )


def test_content_update_reindexes(client: TestClient, alice: Account) -> None:
    file_id = upload(
        client,
        alice,
        "draft.txt",
        b"Original text about helicopters.",
        process_in_background="false",
    ).json()["id"]
    resp = client.post(
        f"/api/v1/files/{file_id}/data/content/update",
        json={"content": "Revised text about gliders."},
        headers=alice.headers,
    )
    assert resp.json() == {"content": "Revised text about gliders."}
    assert (
        client.get(f"/api/v1/files/{file_id}/data/content", headers=alice.headers).json()["content"]
        == "Revised text about gliders."
    )
    assert [t for t, _ in chunks(client, file_id)] == ["Revised text about gliders."]
    assert (
        client.post(
            f"/api/v1/files/{file_id}/data/content/update",
            json={"content": "  "},
            headers=alice.headers,
        ).status_code
        == 400
    )
    assert (
        client.post(
            f"/api/v1/files/{file_id}/data/content/update", json={}, headers=alice.headers
        ).status_code
        == 422
    )


def test_status_stream_reports_progress_until_done(client: TestClient, alice: Account) -> None:
    file_id = upload(client, alice, "long.txt", (TEXT * 3).encode()).json()["id"]
    with client.stream(
        "GET", f"/api/v1/files/{file_id}/process/status?stream=true", headers=alice.headers
    ) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[len("data: ") :])
            for line in resp.iter_lines()
            if line.startswith("data: ")
        ]
    assert events[-1]["status"] == "completed"
    assert events[-1]["progress"]["done"] == events[-1]["progress"]["total"] > 1
    assert all(e["status"] in ("pending", "processing", "completed") for e in events)


@pytest.mark.parametrize(
    ("name", "data", "expected", "absent", "meta_key"),
    [
        (
            "paper.pdf",
            documents.pdf(["Alpha page about nozzles", "Beta page about diffusers"]),
            ["Alpha page about nozzles", "Beta page about diffusers"],
            [],
            "page",
        ),
        (
            "report.docx",
            documents.docx(
                "Results section",
                "Measured lift rises with angle.",
                [["Mach", "Lift"], ["0.8", "0.45"]],
            ),
            ["# Results section", "Measured lift rises with angle.", "Mach | Lift", "0.8 | 0.45"],
            [],
            None,
        ),
        (
            "book.xlsx",
            documents.xlsx(
                {"Runs": [["run", "drag"], [1, 0.031]], "Notes": [["stall at 14 degrees"]]}
            ),
            ["Sheet: Runs", "run | drag", "1 | 0.031", "Sheet: Notes", "stall at 14 degrees"],
            [],
            "sheet",
        ),
        (
            "deck.pptx",
            documents.pptx(
                [("Intro slide", "Why flutter matters"), ("Second slide", "Damping results")]
            ),
            ["Intro slide", "Why flutter matters", "Damping results"],
            [],
            "slide",
        ),
        (
            "page.html",
            documents.HTML,
            ["Wing loading", "The lift coefficient of a swept wing."],
            ["secret", "color", "console"],
            None,
        ),
        (
            "data.csv",
            b"name,speed\nglider,30\njet,250\n",
            ["name: glider\nspeed: 30", "name: jet"],
            [],
            None,
        ),
        (
            "conf.yaml",
            "wing:\n  span: 12 m\n  name: Fl\u00fcgel\n".encode("latin-1"),
            ["span: 12 m", "Fl\u00fcgel"],
            [],
            None,
        ),
        ("main.rs", b'fn main() { println!("lift"); }', ["fn main()"], [], None),
        ("README", b"A file without extension that is plain text.", ["plain text"], [], None),
    ],
)
def test_each_format_reaches_the_chunks(
    client: TestClient,
    alice: Account,
    name: str,
    data: bytes,
    expected: list[str],
    absent: list[str],
    meta_key: str | None,
) -> None:
    resp = upload(client, alice, name, data, process_in_background="false")
    assert resp.status_code == 200, resp.text
    rows = chunks(client, resp.json()["id"])
    joined = "\n".join(t for t, _ in rows)
    for needle in expected:
        assert needle in joined, (needle, joined)
    for needle in absent:
        assert needle not in joined
    if meta_key is not None:
        values = [m[meta_key] for _, m in rows]
        assert len(set(values)) == 2, values
    if name.endswith(".pdf"):
        assert [(t, m["page"]) for t, m in rows] == [
            ("Alpha page about nozzles", 0),
            ("Beta page about diffusers", 1),
        ]


def test_stale_claim_of_another_replica_is_taken_over(client: TestClient, alice: Account) -> None:
    file_id = upload(
        client, alice, "orphan.txt", b"Left behind by a replica that died.", process="false"
    ).json()["id"]
    state = client.app.state.wayline

    async def orphan() -> None:  # as if another machine claimed it and then vanished
        async with state.core.db.sessionmaker() as session:
            await session.execute(
                text(
                    "UPDATE file SET status = 'processing', "
                    "claimed_by = 'dead:beefcafe:4242:other-host', claimed_at = :t WHERE id = :f"
                ),
                {"t": int(time.time()) - 3600, "f": file_id},
            )
            await session.commit()
        await state.get(FilesRuntime).ingestion.submit(file_id)

    client.portal.call(orphan)
    assert wait_done(client, alice, file_id)["status"] == "completed"
    assert [t for t, _ in chunks(client, file_id)] == ["Left behind by a replica that died."]


def test_a_busy_database_during_a_progress_update_does_not_fail_the_file(
    client: TestClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingestion's progress and claim updates retry "database is locked" like its final commit
    does: the file completes instead of failing with an OperationalError."""
    from sqlalchemy.exc import OperationalError

    from wayline.files.repository import FileRepository

    real = FileRepository.update_claimed
    busy = {"left": 2}

    async def sometimes_busy(self: FileRepository, *args: Any, **values: Any) -> bool:
        if "progress_total" in values and busy["left"] > 0:
            busy["left"] -= 1
            raise OperationalError("UPDATE file", {}, Exception("database is locked"))
        return await real(self, *args, **values)

    monkeypatch.setattr(FileRepository, "update_claimed", sometimes_busy)
    file_id = upload(client, alice, "busy.txt", b"text indexed while the database is busy").json()[
        "id"
    ]
    done = wait_done(client, alice, file_id)
    assert busy["left"] == 0  # both refusals happened
    assert done["status"] == "completed", done
    assert chunks(client, file_id)
