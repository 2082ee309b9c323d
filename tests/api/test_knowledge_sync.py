"""Open WebUI 0.12's incremental sync (`sync/diff`, `sync/cleanup`), the upload auto-link from
`metadata.knowledge_id`, `files/pending` and the admin's reindex: what `oikb` relies on."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.api.test_files import uploads_dir
from tests.api.test_knowledge_dirs import K, create_kb, listing, mkdir, names, upload_into
from tests.conftest import Account, LiveServer, signup
from tests.fakes.upstream import FakeUpstream
from wayline.files.service import FilesRuntime

EMBEDDINGS = "/v1/embeddings"


@pytest.fixture
def settings(make_settings, fake_upstream):
    return make_settings(
        RAG_EMBEDDING_ENGINE="openai",
        RAG_EMBEDDING_MODEL="text-embedding-3-small",
        RAG_OPENAI_API_BASE_URL=fake_upstream.openai_url,
    )


def sha(data: str) -> str:
    return hashlib.sha256(data.encode()).hexdigest()


def entry(path: str, filename: str, checksum: str) -> dict[str, Any]:
    return {"filename": filename, "path": path, "checksum": checksum, "size": 10}


def diff(client: TestClient, account: Account, kid: str, manifest: list[dict[str, Any]]):
    return client.post(f"{K}/{kid}/sync/diff", json={"manifest": manifest}, headers=account.headers)


def cleanup(client: TestClient, account: Account, kid: str, file_ids, dir_ids=()):
    return client.post(
        f"{K}/{kid}/sync/cleanup",
        json={"file_ids": list(file_ids), "dir_ids": list(dir_ids)},
        headers=account.headers,
    )


def chunk_ids(client: TestClient, file_id: str) -> list[int]:
    async def read() -> list[int]:
        async with client.app.state.wayline.core.db.sessionmaker() as session:
            rows = await session.execute(
                text("SELECT id FROM chunk WHERE file_id = :f ORDER BY id"), {"f": file_id}
            )
            return list(rows.scalars())

    return client.portal.call(read)


def wait_done(client: TestClient, account: Account, file_id: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = client.get(
            f"/api/v1/files/{file_id}/process/status", headers=account.headers
        ).json()["status"]
        if status in ("completed", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"file {file_id} never finished processing")


def by_name(page: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["filename"]: item for item in page["items"]}


# --- diff and cleanup ----------------------------------------------------------------------------
def test_diff_cleanup_and_resync_of_a_nested_tree(client: TestClient, alice: Account) -> None:
    kid = create_kb(client, alice)
    docs = mkdir(client, alice, kid, "docs")
    api = mkdir(client, alice, kid, "api", docs["id"])
    old = mkdir(client, alice, kid, "old")
    texts = {
        ("", "README.md"): "# Readme\nThe project.",
        ("docs", "guide.md"): "# Guide\nHow to start.",
        ("docs/api", "auth.md"): "# Auth\nTokens expire hourly.",
        ("old", "legacy.md"): "# Legacy\nDo not use.",
    }
    folders = {"": None, "docs": docs["id"], "docs/api": api["id"], "old": old["id"]}
    for (path, name), body in texts.items():
        r = upload_into(client, alice, kid, name, body, folders[path], file_hash=sha(body))
        assert r.status_code == 200, r.text
    before = by_name(listing(client, alice, kid))
    assert before["auth.md"]["meta"]["file_hash"] == sha(texts[("docs/api", "auth.md")])
    vectors_before = {n: chunk_ids(client, f["id"]) for n, f in before.items()}

    # The client's tree now: guide.md changed, legacy.md (and old/) gone, a new file 2 levels down.
    guide_v2 = "# Guide\nHow to start, revised."
    new = "# Beta\nThe v2 beta API."
    manifest = [
        entry("", "README.md", sha(texts[("", "README.md")])),
        entry("docs", "guide.md", sha(guide_v2)),
        entry("docs/api", "auth.md", sha(texts[("docs/api", "auth.md")])),
        entry("docs/api/v2/beta", "new.md", sha(new)),
    ]
    r = diff(client, alice, kid, manifest)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "added": [{"filename": "new.md", "path": "docs/api/v2/beta"}],
        "modified": [
            {"filename": "guide.md", "path": "docs", "stale_file_id": before["guide.md"]["id"]}
        ],
        "deleted": [{"file_id": before["legacy.md"]["id"], "filename": "legacy.md"}],
        "mkdir": ["docs/api/v2", "docs/api/v2/beta"],
        "rmdir": [old["id"]],
        "unmodified_count": 2,
        "directory_map": {"docs": docs["id"], "docs/api": api["id"], "old": old["id"]},
    }

    # What the client does next: clean up, create the folders, upload.
    stale = [before["guide.md"]["id"], before["legacy.md"]["id"]]
    r = cleanup(client, alice, kid, stale, [old["id"]])
    assert r.status_code == 200 and r.json() == {"status": True}
    for file_id in stale:  # the caller owned them and no other collection holds them
        assert client.get(f"/api/v1/files/{file_id}", headers=alice.headers).status_code == 404
    v2 = mkdir(client, alice, kid, "v2", api["id"])
    beta = mkdir(client, alice, kid, "beta", v2["id"])
    upload_into(client, alice, kid, "guide.md", guide_v2, docs["id"], file_hash=sha(guide_v2))
    upload_into(client, alice, kid, "new.md", new, beta["id"], file_hash=sha(new))

    again = diff(client, alice, kid, manifest).json()
    assert again["added"] == again["modified"] == again["deleted"] == []
    assert again["mkdir"] == again["rmdir"] == [] and again["unmodified_count"] == 4
    assert set(again["directory_map"]) == {"docs", "docs/api", "docs/api/v2", "docs/api/v2/beta"}
    after = by_name(listing(client, alice, kid))
    assert sorted(after) == ["README.md", "auth.md", "guide.md", "new.md"]
    for name in ("README.md", "auth.md"):  # untouched: same file, same chunks and vectors
        assert after[name]["id"] == before[name]["id"]
        assert after[name]["updated_at"] == before[name]["updated_at"]
        assert chunk_ids(client, after[name]["id"]) == vectors_before[name] != []
    assert after["guide.md"]["id"] != before["guide.md"]["id"]


def test_stored_checksum_is_the_clients_or_the_bytes(client: TestClient, alice: Account) -> None:
    kid = create_kb(client, alice)
    upload_into(client, alice, kid, "a.md", "# A\nalpha", file_hash="client-version-7")
    upload_into(client, alice, kid, "b.md", "# B\nbeta")  # no file_hash: SHA-256 of the bytes
    body = diff(
        client,
        alice,
        kid,
        [entry("", "a.md", "client-version-7"), entry("", "b.md", sha("# B\nbeta"))],
    ).json()
    assert body["unmodified_count"] == 2 and body["modified"] == [] and body["added"] == []


def test_cleanup_touches_only_this_collection_and_the_callers_files(
    client: TestClient, alice: Account, bob: Account
) -> None:
    write = [{"principal_type": "user", "principal_id": bob.id, "permission": "write"}]
    kid = create_kb(client, alice, access_grants=write)
    other = create_kb(client, alice, "Other")
    upload_into(client, alice, kid, "shared.md", "# Shared\nin two collections")
    upload_into(client, bob, kid, "bobs.md", "# Bob\nbob wrote this")
    upload_into(client, alice, other, "elsewhere.md", "# Else\nnot in kid")
    files = by_name(listing(client, alice, kid))
    shared_id, bobs_id = files["shared.md"]["id"], files["bobs.md"]["id"]
    r = client.post(f"{K}/{other}/file/add", json={"file_id": shared_id}, headers=alice.headers)
    assert r.status_code == 200
    elsewhere_id = listing(client, alice, other)["items"][1]["id"]
    foreign_dir = mkdir(client, alice, other, "keep")

    r = cleanup(
        client, alice, kid, [shared_id, bobs_id, elsewhere_id, "no-such-file"], [foreign_dir["id"]]
    )
    assert r.status_code == 200
    assert listing(client, alice, kid)["total"] == 0
    # Still in the other collection: unlinked here, not deleted.
    assert sorted(names(listing(client, alice, other))) == ["elsewhere.md", "shared.md"]
    assert listing(client, alice, other, directory_id="")["directories"][0]["name"] == "keep"
    # Bob's file left alice's collection, but alice does not delete what she does not own.
    assert client.get(f"/api/v1/files/{bobs_id}", headers=bob.headers).status_code == 200


def test_a_large_tree_is_diffed_whole(client: TestClient, alice: Account) -> None:
    kid = create_kb(client, alice)
    upload_into(client, alice, kid, "kept.md", "# Kept\nkept", file_hash="k")
    manifest = [entry(f"src/module{i % 50}", f"file{i}.py", sha(str(i))) for i in range(20_000)]
    manifest.append(entry("", "kept.md", "k"))
    body = json.dumps({"manifest": manifest})
    assert len(body) > 2 * 1024 * 1024  # beyond the default body cap: a sync takes more
    started = time.monotonic()
    r = client.post(
        f"{K}/{kid}/sync/diff",
        content=body,
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text[:300]
    result = r.json()
    assert len(result["added"]) == 20_000 and result["unmodified_count"] == 1
    assert result["mkdir"][0] == "src" and len(result["mkdir"]) == 51
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    "manifest",
    [
        [{"filename": "a.md", "path": "/abs", "checksum": "x", "size": 1}],
        [{"filename": "a.md", "path": "a//b", "checksum": "x", "size": 1}],
        [{"filename": "a.md", "path": "../up", "checksum": "x", "size": 1}],
        [{"filename": "dir/a.md", "path": "", "checksum": "x", "size": 1}],
        [{"filename": "a.md", "path": "", "checksum": "", "size": 1}],
        [{"filename": "a.md", "path": "", "checksum": "x", "size": -1}],
        [{"filename": "a.md", "checksum": "x", "size": 1}],
        "not a list",
    ],
)
def test_malformed_manifests_are_422(client: TestClient, alice: Account, manifest: Any) -> None:
    kid = create_kb(client, alice)
    r = diff(client, alice, kid, manifest)
    assert r.status_code == 422 and r.json()["detail"]


def test_cleanup_body_must_list_file_ids(client: TestClient, alice: Account) -> None:
    kid = create_kb(client, alice)
    r = client.post(f"{K}/{kid}/sync/cleanup", json={"dir_ids": []}, headers=alice.headers)
    assert r.status_code == 422 and "file_ids" in json.dumps(r.json()["detail"])


def test_other_users_cannot_diff_cleanup_or_list(
    client: TestClient, alice: Account, bob: Account
) -> None:
    private = create_kb(client, alice, "Private")
    read = [{"principal_type": "user", "principal_id": bob.id, "permission": "read"}]
    shared = create_kb(client, alice, "Shared", access_grants=read)
    for kid in (private, shared):
        upload_into(client, alice, kid, "a.md", "# A\nalpha")
    a_shared = listing(client, alice, shared)["items"][0]["id"]

    for kid, code in [(private, 404), (shared, 403)]:
        r = diff(client, bob, kid, [entry("", "a.md", "x")])
        assert r.status_code == code and kid in r.json()["detail"]
        r = cleanup(client, bob, kid, [a_shared])
        assert r.status_code == code and kid in r.json()["detail"]
    for path in ("files", "files/pending"):
        r = client.get(f"{K}/{private}/{path}", headers=bob.headers)
        assert r.status_code == 404 and private in r.json()["detail"]
    assert names(listing(client, bob, shared)) == ["a.md"]  # a reader lists
    assert client.get(f"{K}/{shared}/files/pending", headers=bob.headers).json() == []
    assert names(listing(client, alice, shared)) == ["a.md"]  # nothing removed


# --- upload auto-link ----------------------------------------------------------------------------
def test_upload_without_write_access_is_refused_and_stores_nothing(
    client: TestClient, alice: Account, bob: Account
) -> None:
    read = [{"principal_type": "user", "principal_id": bob.id, "permission": "read"}]
    shared = create_kb(client, alice, "Shared", access_grants=read)
    private = create_kb(client, alice, "Private")
    folder = mkdir(client, alice, shared, "docs")
    elsewhere = mkdir(client, alice, private, "docs")
    blobs = len(uploads_dir(client))

    for kid, directory, code in [
        (shared, None, 403),  # can read, cannot write
        (private, None, 404),  # cannot even read
        ("no-such-collection", None, 404),
    ]:
        r = upload_into(client, bob, kid, "x.md", "# x\nintruder", directory)
        assert r.status_code == code and kid in r.json()["detail"], r.text
    # A folder of another collection (alice may write both): 404, nothing stored either.
    r = upload_into(client, alice, shared, "y.md", "# y\nwrong folder", elsewhere["id"])
    assert r.status_code == 404 and elsewhere["id"] in r.json()["detail"]
    r = client.post(
        "/api/v1/files/",
        files={"file": ("z.md", b"# z", "text/markdown")},
        data={"metadata": json.dumps({"knowledge_id": 42})},
        headers=alice.headers,
    )
    assert r.status_code == 422 and "knowledge_id" in r.json()["detail"]

    assert len(uploads_dir(client)) == blobs
    assert client.get("/api/v1/files/", headers=bob.headers).json()["total"] == 0
    assert client.get("/api/v1/files/", headers=alice.headers).json()["total"] == 0
    assert listing(client, alice, shared)["total"] == 0
    r = upload_into(client, alice, shared, "ok.md", "# ok\nallowed", folder["id"])
    assert r.status_code == 200
    assert names(listing(client, alice, shared, directory_id=folder["id"])) == ["ok.md"]


def test_failed_processing_is_never_listed(client: TestClient, alice: Account) -> None:
    kid = create_kb(client, alice)
    r = upload_into(client, alice, kid, "blank.md", "   \n\n  ", background=True)
    assert r.status_code == 200
    assert wait_done(client, alice, r.json()["id"]) == "failed"
    assert listing(client, alice, kid)["total"] == 0
    assert client.get(f"{K}/{kid}/files/pending", headers=alice.headers).json() == []
    # The next sync asks for it again.
    body = diff(client, alice, kid, [entry("", "blank.md", "h")]).json()
    assert body["added"] == [{"filename": "blank.md", "path": ""}]


def test_uploads_join_the_collection_when_processed_and_wait_in_pending(
    client: TestClient, admin: Account, alice: Account, bob: Account
) -> None:
    write = [{"principal_type": "user", "principal_id": bob.id, "permission": "write"}]
    kid = create_kb(client, alice, access_grants=write)
    runner = client.app.state.wayline.get(FilesRuntime).ingestion
    client.portal.call(runner.stop)  # uploads wait, `pending`, until the workers run again
    try:
        uploaded = [
            upload_into(client, alice, kid, "a.md", "# A\nalpha", background=True).json(),
            upload_into(client, alice, kid, "b.md", "# B\nbeta", background=True).json(),
            upload_into(client, bob, kid, "c.md", "# C\ngamma", background=True).json(),
        ]
        assert listing(client, alice, kid)["total"] == 0  # not linked before processing
        pending = client.get(f"{K}/{kid}/files/pending", headers=alice.headers)
        assert pending.status_code == 200
        assert sorted(f["filename"] for f in pending.json()) == ["a.md", "b.md"]  # her own
        assert {f["data"]["status"] for f in pending.json()} == {"pending"}
        everyone = client.get(f"{K}/{kid}/files/pending", headers=admin.headers).json()
        assert sorted(f["filename"] for f in everyone) == ["a.md", "b.md", "c.md"]
    finally:
        client.portal.call(runner.start)
    for f in uploaded:
        assert wait_done(client, alice if f["user_id"] == alice.id else bob, f["id"]) == "completed"
    assert names(listing(client, alice, kid)) == ["a.md", "b.md", "c.md"]
    assert client.get(f"{K}/{kid}/files/pending", headers=alice.headers).json() == []
    with client.stream(
        "GET", f"{K}/{kid}/files/pending", params={"stream": "true"}, headers=alice.headers
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        assert [line for line in r.iter_lines() if line] == ["data: []"]


def test_parallel_uploads_into_one_collection_are_each_linked_once(
    live_server_factory, fake_upstream: FakeUpstream
) -> None:
    server: LiveServer = live_server_factory(
        RAG_EMBEDDING_ENGINE="openai",
        RAG_EMBEDDING_MODEL="text-embedding-3-small",
        RAG_OPENAI_API_BASE_URL=fake_upstream.openai_url,
    )
    with httpx.Client(base_url=server.url, timeout=60) as http:
        alice = signup(http, "Alice")
        kid = http.post(
            f"{K}/create", json={"name": "many", "description": ""}, headers=alice.headers
        ).json()["id"]
        folder = http.post(
            f"{K}/{kid}/dirs/create", json={"name": "batch"}, headers=alice.headers
        ).json()["id"]

    metadata = json.dumps({"knowledge_id": kid, "directory_id": folder})

    async def upload_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=server.url, headers=alice.headers, timeout=120
        ) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        "/api/v1/files/",
                        params={"process_in_background": "true" if i % 2 else "false"},
                        files={"file": (f"f{i}.md", f"# File {i}\nbody {i}".encode())},
                        data={"metadata": metadata},
                    )
                    for i in range(16)
                )
            )

    responses = asyncio.run(upload_all())
    assert [r.status_code for r in responses] == [200] * 16, [r.text for r in responses]
    uploaded = {r.json()["id"] for r in responses}
    with httpx.Client(base_url=server.url, headers=alice.headers, timeout=30) as http:
        deadline = time.monotonic() + 120
        while http.get(f"{K}/{kid}/files/pending").json() and time.monotonic() < deadline:
            time.sleep(0.2)
        page = http.get(f"{K}/{kid}/files", params={"directory_id": folder, "limit": 100}).json()
    assert page["total"] == 16
    assert sorted(i["id"] for i in page["items"]) == sorted(uploaded)  # each once, in its folder


# --- reindex -------------------------------------------------------------------------------------
def test_reindex_requeues_only_files_with_outdated_vectors(
    client: TestClient, admin: Account, alice: Account, fake_upstream: FakeUpstream
) -> None:
    kid = create_kb(client, alice)
    upload_into(client, alice, kid, "good.md", "# Good\nindexed once")
    good = listing(client, alice, kid)["items"][0]
    good_chunks = chunk_ids(client, good["id"])

    runner = client.app.state.wayline.get(FilesRuntime).ingestion
    client.portal.call(runner.stop)
    try:
        bad = client.post(
            "/api/v1/files/",
            files={
                "file": (
                    "bad.md",
                    b"# Bad\nembedding fails until the upstream is back",
                    "text/markdown",
                )
            },
            headers=alice.headers,
        ).json()
        # Linked while pending (file/add allows it); its processing then fails.
        r = client.post(f"{K}/{kid}/file/add", json={"file_id": bad["id"]}, headers=alice.headers)
        assert r.status_code == 200
        fake_upstream.fail(path=EMBEDDINGS, status=500, message="embedder down")
    finally:
        client.portal.call(runner.start)
    assert wait_done(client, alice, bad["id"]) == "failed"
    fake_upstream.failures.clear()  # the embedder is back
    calls = len(fake_upstream.requests_to(EMBEDDINGS))

    assert client.post(f"{K}/reindex", headers=alice.headers).status_code == 401
    r = client.post(f"{K}/reindex", headers=admin.headers)
    assert r.status_code == 200 and r.json() is True
    assert wait_done(client, alice, bad["id"]) == "completed"
    assert chunk_ids(client, bad["id"]) != []
    assert chunk_ids(client, good["id"]) == good_chunks  # not re-embedded
    texts = [t for c in fake_upstream.requests_to(EMBEDDINGS)[calls:] for t in c.json["input"]]
    assert texts and all("Good" not in t for t in texts)

    meta = client.post(f"{K}/metadata/reindex", headers=admin.headers)
    assert meta.status_code == 200 and meta.json() == {"total": 1, "success": 1}
    assert client.post(f"{K}/metadata/reindex", headers=alice.headers).status_code == 401
