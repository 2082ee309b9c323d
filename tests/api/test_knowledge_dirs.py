"""Knowledge directories (Open WebUI 0.12): folders inside a collection, files listed one folder
at a time, moves, deletes, resets; `/search`, `/search/files` and the export; and one user
never reaching another's folders."""

from __future__ import annotations

import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account

K = "/api/v1/knowledge"


@pytest.fixture
def settings(make_settings, fake_upstream):
    # Embeddings from the fake upstream: quick, and the same vectors every run.
    return make_settings(
        RAG_EMBEDDING_ENGINE="openai",
        RAG_EMBEDDING_MODEL="text-embedding-3-small",
        RAG_OPENAI_API_BASE_URL=fake_upstream.openai_url,
    )


# --- helpers (also used by test_knowledge_sync.py) ---------------------------------------------
def create_kb(client: TestClient, account: Account, name: str = "Docs", **extra: Any) -> str:
    r = client.post(
        f"{K}/create", json={"name": name, "description": "", **extra}, headers=account.headers
    )
    assert r.status_code == 200, r.text
    return r.json()["id"]


def mkdir(
    client: TestClient, account: Account, kid: str, name: str, parent: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if parent:
        body["parent_id"] = parent
    r = client.post(f"{K}/{kid}/dirs/create", json=body, headers=account.headers)
    assert r.status_code == 200, r.text
    return r.json()


def upload_into(
    client: TestClient,
    account: Account,
    kid: str,
    name: str,
    text: str,
    directory_id: str | None = None,
    file_hash: str | None = None,
    background: bool = False,
):
    """`POST /api/v1/files/` as oikb sends it: multipart with `metadata.knowledge_id`."""
    metadata: dict[str, Any] = {"knowledge_id": kid}
    if directory_id:
        metadata["directory_id"] = directory_id
    if file_hash:
        metadata["file_hash"] = file_hash
    return client.post(
        f"/api/v1/files/?process_in_background={'true' if background else 'false'}",
        files={"file": (name, text.encode(), "text/markdown")},
        data={"metadata": json.dumps(metadata)},
        headers=account.headers,
    )


def listing(client: TestClient, account: Account, kid: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"{K}/{kid}/files", params=params, headers=account.headers)
    assert r.status_code == 200, r.text
    return r.json()


def names(page: dict[str, Any]) -> list[str]:
    return sorted(item["filename"] for item in page["items"])


# --- folders ---------------------------------------------------------------------------------
def test_directory_crud_and_levels(client: TestClient, alice: Account) -> None:
    kid = create_kb(client, alice)
    docs = mkdir(client, alice, kid, "docs")
    assert docs["knowledge_id"] == kid and docs["parent_id"] is None and docs["name"] == "docs"
    assert docs["user_id"] == alice.id and isinstance(docs["created_at"], int)
    api = mkdir(client, alice, kid, "api", docs["id"])
    mkdir(client, alice, kid, "blog")

    root = listing(client, alice, kid, directory_id="")
    assert [d["name"] for d in root["directories"]] == ["blog", "docs"]
    assert root["breadcrumbs"] == []
    inside = listing(client, alice, kid, directory_id=api["id"])
    assert inside["directories"] == []
    assert [d["id"] for d in inside["breadcrumbs"]] == [docs["id"], api["id"]]

    r = client.post(
        f"{K}/{kid}/dirs/{api['id']}/update", json={"name": "reference"}, headers=alice.headers
    )
    assert r.status_code == 200 and r.json()["name"] == "reference"
    assert r.json()["parent_id"] == docs["id"]  # a rename alone does not move it
    r = client.post(
        f"{K}/{kid}/dirs/{api['id']}/update", json={"parent_id": None}, headers=alice.headers
    )
    assert (
        r.status_code == 200 and r.json()["parent_id"] is None and r.json()["name"] == "reference"
    )
    root = listing(client, alice, kid, directory_id="")
    assert [d["name"] for d in root["directories"]] == ["blog", "docs", "reference"]

    r = client.delete(f"{K}/{kid}/dirs/{docs['id']}/delete", headers=alice.headers)
    assert r.status_code == 200 and r.json() == {"status": True}
    root = listing(client, alice, kid, directory_id="")
    assert [d["name"] for d in root["directories"]] == ["blog", "reference"]


def test_sibling_names_are_unique_and_moves_cannot_cycle(
    client: TestClient, alice: Account
) -> None:
    kid = create_kb(client, alice)
    a = mkdir(client, alice, kid, "a")
    b = mkdir(client, alice, kid, "b", a["id"])
    c = mkdir(client, alice, kid, "c", b["id"])
    r = client.post(f"{K}/{kid}/dirs/create", json={"name": "a"}, headers=alice.headers)
    assert r.status_code == 400 and "'a'" in r.json()["detail"]
    mkdir(client, alice, kid, "b")  # the same name at another level is another folder
    r = client.post(
        f"{K}/{kid}/dirs/{c['id']}/update", json={"parent_id": None}, headers=alice.headers
    )
    assert r.status_code == 200  # c moves to the root
    r = client.post(f"{K}/{kid}/dirs/{c['id']}/update", json={"name": "b"}, headers=alice.headers)
    assert r.status_code == 400 and "'b'" in r.json()["detail"]  # root already has a "b"
    for target in (a["id"], b["id"]):
        r = client.post(
            f"{K}/{kid}/dirs/{a['id']}/update", json={"parent_id": target}, headers=alice.headers
        )
        assert r.status_code == 400 and a["id"] in r.json()["detail"]
    crumbs = listing(client, alice, kid, directory_id=b["id"])["breadcrumbs"]
    assert [d["name"] for d in crumbs] == ["a", "b"]  # nothing moved


def test_parallel_creates_of_one_name_make_one_folder(client: TestClient, alice: Account) -> None:
    kid = create_kb(client, alice)

    def create(_: int) -> int:
        return client.post(
            f"{K}/{kid}/dirs/create", json={"name": "same"}, headers=alice.headers
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(create, range(8)))
    assert sorted(codes) == [200] + [400] * 7
    assert len(listing(client, alice, kid, directory_id="")["directories"]) == 1


def test_files_sit_in_folders_and_move(client: TestClient, alice: Account) -> None:
    kid = create_kb(client, alice)
    docs = mkdir(client, alice, kid, "docs")
    api = mkdir(client, alice, kid, "api", docs["id"])
    for name, folder in [("top.md", None), ("guide.md", docs["id"]), ("auth.md", api["id"])]:
        r = upload_into(client, alice, kid, name, f"# {name}\nText of {name}.", folder)
        assert r.status_code == 200, r.text

    everything = listing(client, alice, kid)
    assert names(everything) == ["auth.md", "guide.md", "top.md"] and everything["total"] == 3
    folder_of = {i["filename"]: i["directory_id"] for i in everything["items"]}
    assert folder_of == {"top.md": None, "guide.md": docs["id"], "auth.md": api["id"]}
    assert names(listing(client, alice, kid, directory_id="")) == ["top.md"]
    assert names(listing(client, alice, kid, directory_id=docs["id"])) == ["guide.md"]
    in_api = listing(client, alice, kid, directory_id=api["id"])
    assert names(in_api) == ["auth.md"] and in_api["total"] == 1
    assert in_api["items"][0]["user"]["id"] == alice.id
    assert in_api["items"][0]["data"]["status"] == "completed"

    auth_id = in_api["items"][0]["id"]
    r = client.post(
        f"{K}/{kid}/file/move",
        json={"file_id": auth_id, "directory_id": None},
        headers=alice.headers,
    )
    assert r.status_code == 200 and r.json() == {"status": True}
    assert names(listing(client, alice, kid, directory_id="")) == ["auth.md", "top.md"]
    assert listing(client, alice, kid, directory_id=api["id"])["items"] == []
    r = client.post(
        f"{K}/{kid}/file/move",
        json={"file_id": auth_id, "directory_id": docs["id"]},
        headers=alice.headers,
    )
    assert r.status_code == 200
    assert names(listing(client, alice, kid, directory_id=docs["id"])) == ["auth.md", "guide.md"]

    # Listing filters: by name, by owner, sorted.
    assert names(listing(client, alice, kid, query="GUIDE")) == ["guide.md"]
    assert names(listing(client, alice, kid, query="Text of top", include_content=True)) == [
        "top.md"
    ]
    assert listing(client, alice, kid, view_option="shared")["total"] == 0
    ordered = listing(client, alice, kid, order_by="name", direction="asc")
    assert [i["filename"] for i in ordered["items"]] == ["auth.md", "guide.md", "top.md"]


def test_file_add_takes_a_directory(client: TestClient, alice: Account) -> None:
    kid = create_kb(client, alice)
    docs = mkdir(client, alice, kid, "docs")
    file_id = client.post(
        "/api/v1/files/?process_in_background=false",
        files={"file": ("x.md", b"# x\nloose file", "text/markdown")},
        headers=alice.headers,
    ).json()["id"]
    r = client.post(
        f"{K}/{kid}/file/add",
        json={"file_id": file_id, "directory_id": "nope"},
        headers=alice.headers,
    )
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    assert listing(client, alice, kid)["total"] == 0  # nothing half-done
    r = client.post(
        f"{K}/{kid}/file/add",
        json={"file_id": file_id, "directory_id": docs["id"]},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert [i["id"] for i in listing(client, alice, kid, directory_id=docs["id"])["items"]] == [
        file_id
    ]


def test_deleting_a_directory_moves_or_removes_its_files(
    client: TestClient, alice: Account
) -> None:
    kid = create_kb(client, alice)
    docs = mkdir(client, alice, kid, "docs")
    api = mkdir(client, alice, kid, "api", docs["id"])
    old = mkdir(client, alice, kid, "old")
    upload_into(client, alice, kid, "a.md", "# a\nalpha", api["id"])
    upload_into(client, alice, kid, "b.md", "# b\nbeta", old["id"])
    b_id = listing(client, alice, kid, directory_id=old["id"])["items"][0]["id"]

    # move_files (the default): the files of the folder and of its sub-folders go up one level.
    r = client.delete(f"{K}/{kid}/dirs/{docs['id']}/delete", headers=alice.headers)
    assert r.status_code == 200
    assert names(listing(client, alice, kid, directory_id="")) == ["a.md"]
    assert listing(client, alice, kid, directory_id="")["directories"][0]["name"] == "old"

    # move_files=false: the files leave the collection, and (owned, no retention) are deleted.
    r = client.delete(
        f"{K}/{kid}/dirs/{old['id']}/delete", params={"move_files": "false"}, headers=alice.headers
    )
    assert r.status_code == 200
    assert names(listing(client, alice, kid)) == ["a.md"]
    assert client.get(f"/api/v1/files/{b_id}", headers=alice.headers).status_code == 404


def test_reset_keeps_or_drops_directories(client: TestClient, alice: Account) -> None:
    kid = create_kb(client, alice)
    docs = mkdir(client, alice, kid, "docs")
    upload_into(client, alice, kid, "a.md", "# a\nalpha", docs["id"])
    r = client.post(
        f"{K}/{kid}/reset", params={"include_directories": "false"}, headers=alice.headers
    )
    assert r.status_code == 200
    kept = listing(client, alice, kid, directory_id="")
    assert kept["total"] == 0 and [d["name"] for d in kept["directories"]] == ["docs"]
    assert client.post(f"{K}/{kid}/reset", headers=alice.headers).status_code == 200
    assert listing(client, alice, kid, directory_id="")["directories"] == []


def test_deleting_a_collection_takes_its_folders(client: TestClient, alice: Account) -> None:
    kid = create_kb(client, alice)
    docs = mkdir(client, alice, kid, "docs")
    mkdir(client, alice, kid, "api", docs["id"])
    upload_into(client, alice, kid, "a.md", "# a\nalpha", docs["id"])
    file_id = listing(client, alice, kid)["items"][0]["id"]
    assert client.delete(f"{K}/{kid}/delete", headers=alice.headers).json() is True
    r = client.post(f"{K}/{kid}/dirs/create", json={"name": "x"}, headers=alice.headers)
    assert r.status_code == 404
    # Files outlive their collection, as in Open WebUI; the file can join another one.
    other = create_kb(client, alice, "Other")
    r = client.post(f"{K}/{other}/file/add", json={"file_id": file_id}, headers=alice.headers)
    assert r.status_code == 200 and names(listing(client, alice, other)) == ["a.md"]


@pytest.mark.parametrize("name", ["a/b", "..", ".", "", "   "])
def test_bad_directory_names_are_422(client: TestClient, alice: Account, name: str) -> None:
    kid = create_kb(client, alice)
    r = client.post(f"{K}/{kid}/dirs/create", json={"name": name}, headers=alice.headers)
    assert r.status_code == 422 and r.json()["detail"]
    assert listing(client, alice, kid, directory_id="")["directories"] == []


def test_unknown_or_foreign_directories_are_404(client: TestClient, alice: Account) -> None:
    kid = create_kb(client, alice)
    other = create_kb(client, alice, "Other")
    foreign = mkdir(client, alice, other, "elsewhere")
    for method, path, body in [
        ("post", "/dirs/create", {"name": "x", "parent_id": foreign["id"]}),
        ("post", f"/dirs/{foreign['id']}/update", {"name": "y"}),
        ("delete", f"/dirs/{foreign['id']}/delete", None),
        ("post", "/file/move", {"file_id": "nope", "directory_id": None}),
        ("get", f"/files?directory_id={foreign['id']}", None),
    ]:
        r = client.request(method.upper(), f"{K}/{kid}{path}", json=body, headers=alice.headers)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["detail"]
    # The other collection's folder is untouched.
    assert listing(client, alice, other, directory_id="")["directories"][0]["name"] == "elsewhere"


def test_directories_follow_the_collections_access(
    client: TestClient, alice: Account, bob: Account
) -> None:
    private = create_kb(client, alice, "Private")
    shared = create_kb(
        client,
        alice,
        "Shared",
        access_grants=[{"principal_type": "user", "principal_id": bob.id, "permission": "read"}],
    )
    for kid in (private, shared):
        d = mkdir(client, alice, kid, "docs")
        upload_into(client, alice, kid, "a.md", "# a\nalpha", d["id"])
    d_private = listing(client, alice, private, directory_id="")["directories"][0]["id"]
    d_shared = listing(client, alice, shared, directory_id="")["directories"][0]["id"]

    for kid, folder, code in [(private, d_private, 404), (shared, d_shared, 403)]:
        for method, path, body in [
            ("post", "/dirs/create", {"name": "mine"}),
            ("post", f"/dirs/{folder}/update", {"name": "renamed"}),
            ("delete", f"/dirs/{folder}/delete", None),
            ("post", "/file/move", {"file_id": "x", "directory_id": None}),
        ]:
            r = client.request(method.upper(), f"{K}/{kid}{path}", json=body, headers=bob.headers)
            assert r.status_code == code, (kid, path, r.text)
            assert kid in r.json()["detail"]
    r = client.get(f"{K}/{private}/files", headers=bob.headers)
    assert r.status_code == 404 and private in r.json()["detail"]
    seen = listing(client, bob, shared, directory_id=d_shared)  # a reader browses folders
    assert names(seen) == ["a.md"] and [d["name"] for d in seen["breadcrumbs"]] == ["docs"]
    assert [d["name"] for d in listing(client, alice, private, directory_id="")["directories"]] == [
        "docs"
    ]


# --- search and export ---------------------------------------------------------------------------
def test_search_and_search_files_see_only_readable_collections(
    client: TestClient, alice: Account, bob: Account
) -> None:
    mine = create_kb(client, alice, "Harbour records")
    create_kb(client, alice, "Kitchen notes")
    bobs = create_kb(client, bob, "Harbour secrets")
    upload_into(client, alice, mine, "tides.md", "# Tides\nHigh water at noon.")
    upload_into(client, bob, bobs, "tides-private.md", "# Tides\nBob's own table.")

    found = client.get(f"{K}/search", params={"query": "harbour"}, headers=alice.headers).json()
    assert [k["name"] for k in found["items"]] == ["Harbour records"] and found["total"] == 1
    assert found["items"][0]["write_access"] is True and found["items"][0]["file_count"] == 1
    everything = client.get(f"{K}/search", headers=alice.headers).json()
    assert everything["total"] == 2
    by_name = client.get(
        f"{K}/search", params={"order_by": "name", "direction": "asc"}, headers=alice.headers
    ).json()
    assert [k["name"] for k in by_name["items"]] == ["Harbour records", "Kitchen notes"]

    files = client.get(f"{K}/search/files", params={"query": "tides"}, headers=alice.headers)
    assert files.status_code == 200
    body = files.json()
    assert [f["filename"] for f in body["items"]] == ["tides.md"] and body["total"] == 1
    assert body["items"][0]["collection"]["id"] == mine
    by_content = client.get(
        f"{K}/search/files",
        params={"query": "high water", "include_content": "true"},
        headers=alice.headers,
    ).json()
    assert [f["filename"] for f in by_content["items"]] == ["tides.md"]
    not_by_name = client.get(
        f"{K}/search/files", params={"query": "high water"}, headers=alice.headers
    ).json()
    assert not_by_name["items"] == []


def test_export_is_an_admin_zip_of_texts_by_folder(
    client: TestClient, admin: Account, alice: Account
) -> None:
    kid = create_kb(client, alice, "Docs / 2024")
    docs = mkdir(client, alice, kid, "docs")
    upload_into(client, alice, kid, "readme.md", "# Readme\nroot text")
    upload_into(client, alice, kid, "readme.md", "# Readme\nnested text", docs["id"])
    upload_into(client, alice, kid, "notes.txt", "plain notes")

    assert client.get(f"{K}/{kid}/export", headers=alice.headers).status_code == 401
    r = client.get(f"{K}/{kid}/export", headers=admin.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "Docs%20_%202024.zip" in r.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert sorted(archive.namelist()) == ["docs/readme.md.txt", "notes.txt", "readme.md.txt"]
    assert "nested text" in archive.read("docs/readme.md.txt").decode()
    assert "root text" in archive.read("readme.md.txt").decode()
    r = client.get(f"{K}/nope/export", headers=admin.headers)
    assert r.status_code == 404 and "nope" in r.json()["detail"]
