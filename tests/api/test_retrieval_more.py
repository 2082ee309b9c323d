"""`/api/v1/retrieval`: `process/files/batch`, `delete`, `reset/db` and `reset/uploads`, through
the real app. The invariant behind every write: a file has chunks exactly when it is
`completed`, and a collection serves only the files linked to it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.api.test_files_more import concurrently
from tests.api.test_retrieval import BREAD, ENGINE, ZEBRA, collection, upload
from wayline.core.errors import DUPLICATE_CONTENT
from wayline.files.service import FilesRuntime

K = "/api/v1/knowledge"
R = "/api/v1/retrieval"
F = "/api/v1/files"
GLIDER = "Gliders climb in thermals: columns of warm air rising from sunlit fields."


def sql(client, query: str, **params: Any) -> list[Any]:
    async def run() -> list[Any]:
        async with client.app.state.wayline.core.db.sessionmaker() as session:
            return list((await session.execute(text(query), params)).all())

    return client.portal.call(run)


def assert_consistent(client) -> None:
    """No chunk without a completed file, no completed file without chunks."""
    stray = sql(
        client,
        "SELECT DISTINCT c.file_id FROM chunk c JOIN file f ON f.id = c.file_id "
        "WHERE f.status <> 'completed'",
    )
    empty = sql(
        client,
        "SELECT f.id FROM file f WHERE f.status = 'completed' "
        "AND NOT EXISTS (SELECT 1 FROM chunk c WHERE c.file_id = f.id)",
    )
    assert stray == [] and empty == []


def linked(client, account, kid: str) -> set[str]:
    listing = client.get(f"{K}/{kid}/files", headers=account.headers)
    assert listing.status_code == 200, listing.text
    return {f["id"] for f in listing.json()["items"]}


def model(client, account, file_id: str) -> dict[str, Any]:
    """The file as Open WebUI's clients send it back (`FileModel`, content included)."""
    resp = client.get(f"{F}/{file_id}", headers=account.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def batch(client, account, files: list[dict[str, Any]], name: str):
    return client.post(
        f"{R}/process/files/batch",
        json={"files": files, "collection_name": name},
        headers=account.headers,
    )


def top_document(client, account, name: str, query: str) -> list[str]:
    resp = client.post(
        f"{R}/query/doc", json={"collection_name": name, "query": query}, headers=account.headers
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["documents"][0]


def test_batch_links_every_file_and_reports_the_shape(client, alice):
    ids = [upload(client, alice, n, t)["id"] for n, t in (("z.txt", ZEBRA), ("e.txt", ENGINE))]
    kid = collection(client, alice)
    resp = batch(client, alice, [model(client, alice, i) for i in ids], kid)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "results": [{"file_id": i, "status": "completed", "error": None} for i in ids],
        "errors": [],
    }
    assert linked(client, alice, kid) == set(ids)
    assert top_document(client, alice, kid, "zebra convoy indigo")[0] == ZEBRA
    # Sent again: nothing changes, nothing fails.
    again = batch(client, alice, [model(client, alice, i) for i in ids], kid).json()
    assert [r["status"] for r in again["results"]] == ["completed"] * 2 and again["errors"] == []
    assert linked(client, alice, kid) == set(ids)
    assert_consistent(client)


def test_batch_reports_bad_files_without_losing_the_others(client, alice, bob):
    good = [upload(client, alice, n, t)["id"] for n, t in (("z.txt", ZEBRA), ("b.txt", BREAD))]
    bobs = upload(client, bob, "bob.txt", ENGINE)["id"]
    shared = upload(client, bob, "shared.txt", GLIDER)["id"]
    theirs = collection(client, bob, shared)
    grant = {"principal_type": "user", "principal_id": alice.id, "permission": "read"}
    client.post(f"{K}/{theirs}/access/update", json={"access_grants": [grant]}, headers=bob.headers)
    # A file that cannot be processed: stored only, then the batch processes it, and it fails.
    broken = client.post(
        f"{F}/?process=false",
        files={"file": ("broken.pdf", b"%PDF-1.4 not really a pdf", "application/pdf")},
        headers=alice.headers,
    ).json()["id"]

    kid = collection(client, alice)
    files = [
        model(client, alice, good[0]),
        {"id": "no-such-file"},
        {"id": bobs},
        {"id": shared},
        {"id": broken},
        model(client, alice, good[1]),
    ]
    resp = batch(client, alice, files, kid)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    results = {r["file_id"]: r for r in body["results"]}
    assert [r["file_id"] for r in body["results"]] == [good[0], broken, good[1]]
    assert results[good[0]]["status"] == results[good[1]]["status"] == "completed"
    assert results[broken]["status"] == "failed" and results[broken]["error"]
    errors = {e["file_id"]: e["error"] for e in body["errors"]}
    assert errors == {
        "no-such-file": "File not found",
        bobs: "File not found",  # Bob's private file: its id reveals nothing
        shared: "Permission denied: not file owner",  # readable through Bob's collection
        broken: results[broken]["error"],
    }
    assert linked(client, alice, kid) == set(good)
    # Nothing of Bob's was touched.
    assert model(client, bob, bobs)["data"]["content"] == ENGINE
    assert_consistent(client)


def test_batch_indexes_sent_text_and_unprocessed_files(client, alice):
    edited = upload(client, alice, "e.txt", ENGINE)["id"]
    stored = client.post(
        f"{F}/?process=false",
        files={"file": ("g.txt", GLIDER.encode(), "text/plain")},
        headers=alice.headers,
    ).json()["id"]
    sent = model(client, alice, edited)
    sent["data"]["content"] = BREAD  # the client edited the text
    resp = batch(client, alice, [sent, model(client, alice, stored)], f"file-{edited}")
    assert resp.status_code == 200, resp.text
    assert [r["status"] for r in resp.json()["results"]] == ["completed", "completed"]

    assert model(client, alice, edited)["data"]["content"] == BREAD
    assert top_document(client, alice, f"file-{edited}", "sourdough yeast") == [BREAD]
    glider = model(client, alice, stored)
    assert glider["data"]["status"] == "completed" and glider["data"]["content"] == GLIDER
    assert_consistent(client)


def test_batch_refuses_duplicates_in_the_batch_and_the_collection(client, alice):
    first = upload(client, alice, "a.txt", ZEBRA)["id"]
    twin = upload(client, alice, "b.txt", ZEBRA)["id"]
    other = upload(client, alice, "c.txt", ENGINE)["id"]
    kid = collection(client, alice)
    body = batch(client, alice, [{"id": first}, {"id": twin}, {"id": other}], kid).json()
    assert {e["file_id"]: e["error"] for e in body["errors"]} == {twin: DUPLICATE_CONTENT}
    assert linked(client, alice, kid) == {first, other}

    # A file whose text is already in the collection (sent text counts, not the stored one).
    late = upload(client, alice, "d.txt", BREAD)["id"]
    sent = {"id": late, "data": {"content": ENGINE}}
    body = batch(client, alice, [sent], kid).json()
    assert body == {
        "results": [],
        "errors": [{"file_id": late, "status": "failed", "error": DUPLICATE_CONTENT}],
    }
    assert model(client, alice, late)["data"]["content"] == BREAD  # not re-indexed
    assert linked(client, alice, kid) == {first, other}


def test_batch_collection_is_checked_before_anything_is_done(client, alice, bob):
    mine = upload(client, alice, "z.txt", ZEBRA)["id"]
    theirs = collection(client, bob)
    grant = {"principal_type": "user", "principal_id": alice.id, "permission": "read"}
    client.post(f"{K}/{theirs}/access/update", json={"access_grants": [grant]}, headers=bob.headers)
    sent = {"id": mine, "data": {"content": BREAD}}

    read_only = batch(client, alice, [sent], theirs)
    assert read_only.status_code == 403 and theirs in read_only.json()["detail"]
    private = batch(client, bob, [{"id": mine}], collection(client, alice))
    assert private.status_code == 404
    unknown = batch(client, alice, [sent], "no-such-collection")
    assert unknown.status_code == 404 and "no-such-collection" in unknown.json()["detail"]
    assert model(client, alice, mine)["data"]["content"] == ZEBRA  # untouched
    assert linked(client, bob, theirs) == set()


@pytest.mark.parametrize(
    "body",
    [
        {"files": []},
        {"collection_name": "x"},
        {"files": [{"name": "no id"}], "collection_name": "x"},
        {"files": {"id": "x"}, "collection_name": "x"},
        {"files": [], "collection_name": "a b"},
        {"files": [{"id": "x"}] * 1001, "collection_name": "x"},
    ],
)
def test_batch_bad_bodies_are_422(client, alice, body):
    resp = client.post(f"{R}/process/files/batch", json=body, headers=alice.headers)
    assert resp.status_code == 422 and resp.json()["detail"]


def test_concurrent_batches_link_each_file_once(client, alice):
    texts = [ZEBRA, ENGINE, BREAD, GLIDER]
    ids = [upload(client, alice, f"f{i}.txt", t)["id"] for i, t in enumerate(texts)]
    kid = collection(client, alice)
    calls = [
        (
            "POST",
            f"{R}/process/files/batch",
            {
                "json": {"files": [{"id": i} for i in ids[k : k + 3]], "collection_name": kid},
                "headers": alice.headers,
            },
        )
        for k in (0, 1, 0, 1)
    ]
    replies = concurrently(client, calls)
    assert [r.status_code for r in replies] == [200] * 4
    for reply in replies:
        assert reply.json()["errors"] == []
    assert linked(client, alice, kid) == set(ids)
    links = sql(client, "SELECT file_id FROM knowledge_file WHERE knowledge_id = :k", k=kid)
    assert len(links) == len(ids)
    assert_consistent(client)


def test_delete_entries_from_a_collection(client, admin, alice):
    zebra = upload(client, alice, "z.txt", ZEBRA)["id"]
    engine = upload(client, alice, "e.txt", ENGINE)["id"]
    kid = collection(client, alice, zebra, engine)

    form = {"collection_name": kid, "file_id": zebra}
    assert client.post(f"{R}/delete", json=form, headers=alice.headers).status_code == 401
    resp = client.post(f"{R}/delete", json=form, headers=admin.headers)
    assert resp.status_code == 200 and resp.json() == {"status": True}
    assert linked(client, alice, kid) == {engine}
    assert ZEBRA not in top_document(client, alice, kid, "zebra convoy")
    # The file itself keeps its own collection.
    assert top_document(client, alice, f"file-{zebra}", "zebra convoy") == [ZEBRA]

    # From the file's own collection: its chunks go, and it waits to be processed again.
    own = {"collection_name": f"file-{zebra}", "file_id": zebra}
    assert client.post(f"{R}/delete", json=own, headers=admin.headers).json() == {"status": True}
    assert model(client, alice, zebra)["hash"] is None
    assert client.get(f"{F}/{zebra}/process/status", headers=alice.headers).json()["status"] == (
        "pending"
    )
    assert top_document(client, alice, f"file-{zebra}", "zebra convoy") == []
    assert_consistent(client)
    # Gone from the store, the collection no longer exists there.
    assert client.post(f"{R}/delete", json=own, headers=admin.headers).json() == {"status": False}
    again = client.post(f"{R}/process/file", json={"file_id": zebra}, headers=alice.headers)
    assert again.status_code == 200, again.text
    assert top_document(client, alice, f"file-{zebra}", "zebra convoy") == [ZEBRA]
    assert_consistent(client)


def test_delete_entries_errors(client, admin, alice):
    done = upload(client, alice, "z.txt", ZEBRA)["id"]
    stored = client.post(
        f"{F}/?process=false",
        files={"file": ("s.txt", b"stored only", "text/plain")},
        headers=alice.headers,
    ).json()["id"]
    kid = collection(client, alice, done)
    unknown = {"collection_name": "no-such-collection", "file_id": done}
    assert client.post(f"{R}/delete", json=unknown, headers=admin.headers).json() == {
        "status": False
    }
    missing = client.post(
        f"{R}/delete", json={"collection_name": kid, "file_id": "nope"}, headers=admin.headers
    )
    assert missing.status_code == 404 and missing.json()["detail"]
    no_hash = client.post(
        f"{R}/delete", json={"collection_name": kid, "file_id": stored}, headers=admin.headers
    )
    assert no_hash.status_code == 400 and "no hash" in no_hash.json()["detail"]
    bodies = ({"collection_name": kid}, {"file_id": done}, {"collection_name": "", "file_id": "x"})
    for body in bodies:
        assert client.post(f"{R}/delete", json=body, headers=admin.headers).status_code == 422
    assert linked(client, alice, kid) == {done}


def test_reset_db_clears_vectors_and_collections_and_keeps_files(client, admin, alice):
    ids = [upload(client, alice, n, t)["id"] for n, t in (("z.txt", ZEBRA), ("e.txt", ENGINE))]
    kid = collection(client, alice, *ids)
    pending = upload(client, alice, "g.txt", GLIDER * 50, background=True)["id"]

    assert client.post(f"{R}/reset/db", headers=alice.headers).status_code == 401
    assert linked(client, alice, kid) == set(ids)

    resp = client.post(f"{R}/reset/db", headers=admin.headers)
    assert resp.status_code == 200 and resp.json() is None
    assert client.get(f"{K}/{kid}", headers=alice.headers).status_code == 404
    assert client.get(f"{K}/", headers=alice.headers).json()["total"] == 0
    for fid in ids:
        row = model(client, alice, fid)
        assert row["hash"] is None and "content" not in row["data"]
        assert top_document(client, alice, f"file-{fid}", "zebra engine") == []
    left = sql(client, "SELECT count(*) FROM chunk WHERE file_id IN (:a, :b)", a=ids[0], b=ids[1])
    assert left == [(0,)]
    # A file still being processed finishes with its chunks (or, done before the reset, is
    # stored only like the others): either way rows and chunks agree.
    for _ in range(400):
        if model(client, alice, pending)["data"].get("status") in (None, "completed"):
            break
        time.sleep(0.05)
    assert model(client, alice, pending)["data"].get("status") in (None, "completed")
    assert_consistent(client)

    again = client.post(f"{R}/process/file", json={"file_id": ids[0]}, headers=alice.headers)
    assert again.status_code == 200, again.text
    assert top_document(client, alice, f"file-{ids[0]}", "zebra convoy") == [ZEBRA]


def test_reset_uploads_deletes_stored_bytes_only(client, admin, alice):
    fid = upload(client, alice, "z.txt", ZEBRA)["id"]
    root = Path(client.app.state.wayline.get(FilesRuntime).blobs.root)
    assert any(root.iterdir())
    assert client.post(f"{R}/reset/uploads", headers=alice.headers).status_code == 401
    assert any(root.iterdir())

    resp = client.post(f"{R}/reset/uploads", headers=admin.headers)
    assert resp.status_code == 200 and resp.json() is True
    assert list(root.iterdir()) == []
    # The row, its text and its chunks stay.
    assert model(client, alice, fid)["data"]["content"] == ZEBRA
    assert client.get(f"{F}/{fid}/content/z.txt", headers=alice.headers).text == ZEBRA
    assert top_document(client, alice, f"file-{fid}", "zebra convoy") == [ZEBRA]
    # New uploads work as before.
    fresh = upload(client, alice, "n.txt", BREAD)["id"]
    assert client.get(f"{F}/{fresh}/content", headers=alice.headers).text == BREAD
