"""`/api/v1/files`: search, count, rename and the two extra content routes (`content/html`,
`content/{file_name}`), through the real app."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.test_files import upload, wait_done
from tests.conftest import Account
from wayline.files.service import FilesRuntime

F = "/api/v1/files"


def add(client: TestClient, who: Account, name: str, text: str = "some words") -> dict[str, Any]:
    resp = upload(client, who, name, f"{name}: {text}".encode(), "text/plain")
    assert resp.status_code == 200, resp.text
    assert wait_done(client, who, resp.json()["id"])["status"] == "completed"
    return resp.json()


def concurrently(client: TestClient, calls: list[tuple[str, str, dict[str, Any]]]) -> list[Any]:
    """Send the requests at once, on the app's own event loop, and return the responses."""

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=120
        ) as http:
            return list(await asyncio.gather(*(http.request(m, u, **kw) for m, u, kw in calls)))

    return client.portal.call(run)


@pytest.fixture
def library(client, admin, alice, bob) -> dict[str, dict[str, Any]]:
    """Alice has four files, Bob one, the admin none."""
    return {
        "a": add(client, alice, "alpha.txt"),
        "b": add(client, alice, "beta.md"),
        "n1": add(client, alice, "notes_1.txt"),
        "nx": add(client, alice, "notesX1.txt"),
        "bob": add(client, bob, "bob.txt"),
    }


def names(resp: httpx.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [f["filename"] for f in resp.json()]


def newest_first(files: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(files, key=lambda f: (f["created_at"], f["id"]), reverse=True)
    return [f["filename"] for f in ordered]


def test_search_shape_patterns_and_order(client, alice, library):
    resp = client.get(f"{F}/search", params={"filename": "*.txt"}, headers=alice.headers)
    # Only Alice's own files, newest first (ties: by id).
    assert sorted(names(resp)) == ["alpha.txt", "notesX1.txt", "notes_1.txt"]
    assert names(resp) == newest_first(resp.json())
    first = resp.json()[0]
    assert set(first) >= {"id", "user_id", "hash", "filename", "data", "meta", "created_at"}
    assert first["user_id"] == alice.id and first["meta"]["name"] == first["filename"]
    assert first["data"]["content"] == f"{first['filename']}: some words"  # content=true default

    # `_` and `%` are literal characters, `?` one character; case does not matter.
    assert names(client.get(f"{F}/search?filename=notes_*", headers=alice.headers)) == [
        "notes_1.txt"
    ]
    assert sorted(names(client.get(f"{F}/search?filename=notes?1.TXT", headers=alice.headers))) == [
        "notesX1.txt",
        "notes_1.txt",
    ]
    assert names(client.get(f"{F}/search?filename=BETA.md", headers=alice.headers)) == ["beta.md"]
    assert client.get(f"{F}/search?filename=%25", headers=alice.headers).status_code == 404

    everything = client.get(f"{F}/search?filename=*", headers=alice.headers).json()
    lean = client.get(f"{F}/search?filename=*&content=false&skip=1&limit=2", headers=alice.headers)
    assert names(lean) == newest_first(everything)[1:3]
    assert all("content" not in f["data"] for f in lean.json())

    missing = client.get(f"{F}/search?filename=*.pdf", headers=alice.headers)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No files found matching the pattern."


def test_search_and_count_are_scoped_to_the_caller(client, admin, alice, bob, library):
    # Bob never sees Alice's files, by name or by count.
    assert client.get(f"{F}/search?filename=alpha*", headers=bob.headers).status_code == 404
    assert names(client.get(f"{F}/search?filename=*", headers=bob.headers)) == ["bob.txt"]
    assert names(client.get(f"{F}/user/search", headers=bob.headers)) == ["bob.txt"]
    assert client.get(f"{F}/count", headers=bob.headers).json() == 1
    assert client.get(f"{F}/user/count", headers=bob.headers).json() == 1
    assert client.get(f"{F}/count", headers=alice.headers).json() == 4

    # An admin searches and counts everyone's files; the `/user/...` forms are their own.
    everyone = names(client.get(f"{F}/search?filename=*", headers=admin.headers))
    assert sorted(everyone) == sorted(f["filename"] for f in library.values())
    assert client.get(f"{F}/count", headers=admin.headers).json() == 5
    assert client.get(f"{F}/user/count", headers=admin.headers).json() == 0
    assert client.get(f"{F}/user/search", headers=admin.headers).json() == []

    # `/user/search`: content is left out unless asked for, and no match is an empty list.
    own = client.get(f"{F}/user/search?filename=alpha.txt", headers=alice.headers).json()
    assert [f["id"] for f in own] == [library["a"]["id"]] and "content" not in own[0]["data"]
    with_text = client.get(
        f"{F}/user/search?filename=alpha.txt&content=true", headers=alice.headers
    ).json()
    assert with_text[0]["data"]["content"] == "alpha.txt: some words"
    assert client.get(f"{F}/user/search?filename=zzz", headers=alice.headers).json() == []


@pytest.mark.parametrize(
    "query",
    ["", "?filename=*&limit=0", "?filename=*&limit=1001", "?filename=*&skip=-1"],
)
def test_search_bad_input_is_422(client, alice, query):
    resp = client.get(f"{F}/search{query}", headers=alice.headers)
    assert resp.status_code == 422 and resp.json()["detail"]


def test_search_and_count_need_a_user(client):
    for path in ("/search?filename=*", "/user/search", "/count", "/user/count"):
        assert client.get(F + path).status_code == 401


def test_rename_shape_reads_and_access(client, alice, bob):
    original = add(client, alice, "draft.txt")
    fid = original["id"]
    resp = client.post(f"{F}/{fid}/rename", json={"filename": "Final é.txt"}, headers=alice.headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["id"] == fid and body["filename"] == "Final é.txt"
    assert body["meta"]["name"] == "Final é.txt" and body["path"] == original["path"]
    assert body["meta"]["collection_name"] == f"file-{fid}"  # the rest of meta is kept
    assert body["updated_at"] >= original["updated_at"]
    assert body["data"]["content"] == "draft.txt: some words"

    got = client.get(f"{F}/{fid}", headers=alice.headers).json()
    assert got["filename"] == got["meta"]["name"] == "Final é.txt"
    raw = client.get(f"{F}/{fid}/content?attachment=true", headers=alice.headers)
    assert "Final%20%C3%A9.txt" in raw.headers["content-disposition"]
    assert names(client.get(f"{F}/search?filename=final*", headers=alice.headers)) == [
        "Final é.txt"
    ]

    # Another user can neither rename it nor learn that it exists.
    denied = client.post(f"{F}/{fid}/rename", json={"filename": "mine.txt"}, headers=bob.headers)
    assert denied.status_code == 404
    unknown = client.post(f"{F}/nope/rename", json={"filename": "x.txt"}, headers=alice.headers)
    assert unknown.status_code == 404
    assert client.get(f"{F}/{fid}", headers=alice.headers).json()["filename"] == "Final é.txt"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({}, 422, "filename"),
        ({"filename": ""}, 422, "filename"),
        ({"filename": "x" * 1025}, 422, "filename"),
        ({"filename": 7}, 422, "filename"),
        ({"filename": "   "}, 400, "empty"),
        ({"filename": "../etc/passwd"}, 400, "'/'"),
        ({"filename": "a\\b.txt"}, 400, "'/'"),
        ({"filename": "tab\there.txt"}, 400, "control"),
    ],
)
def test_rename_bad_input_changes_nothing(client, alice, body, status, says):
    fid = add(client, alice, "keep.txt")["id"]
    resp = client.post(f"{F}/{fid}/rename", json=body, headers=alice.headers)
    assert resp.status_code == status, resp.text
    assert says in str(resp.json()["detail"])
    assert client.get(f"{F}/{fid}", headers=alice.headers).json()["filename"] == "keep.txt"


def test_concurrent_renames_leave_one_consistent_name(client, alice):
    fid = add(client, alice, "race.txt")["id"]
    wanted = [f"name-{i}.txt" for i in range(12)]
    replies = concurrently(
        client,
        [
            ("POST", f"{F}/{fid}/rename", {"json": {"filename": n}, "headers": alice.headers})
            for n in wanted
        ],
    )
    assert [r.status_code for r in replies] == [200] * len(wanted)
    assert sorted(r.json()["filename"] for r in replies) == sorted(wanted)
    final = client.get(f"{F}/{fid}", headers=alice.headers).json()
    assert final["filename"] in wanted and final["meta"]["name"] == final["filename"]
    assert final["data"]["status"] == "completed"


def test_rename_while_processing_is_kept(client, alice):
    """The ingestion commit re-reads the meta it writes, so a rename made meanwhile stays."""
    text = "A paragraph about gliders and thermals. " * 4000
    resp = upload(client, alice, "long.txt", text.encode(), "text/plain")
    fid = resp.json()["id"]
    renamed = client.post(
        f"{F}/{fid}/rename", json={"filename": "renamed.txt"}, headers=alice.headers
    )
    assert renamed.status_code == 200, renamed.text
    assert wait_done(client, alice, fid)["status"] == "completed"
    final = client.get(f"{F}/{fid}", headers=alice.headers).json()
    assert final["filename"] == final["meta"]["name"] == "renamed.txt"
    assert final["meta"]["collection_name"] == f"file-{fid}"


def test_html_content_only_for_files_an_admin_uploaded(client, admin, alice, bob):
    page = b"<html><body><h1>Release notes</h1></body></html>"
    own = upload(client, admin, "notes.html", page, "text/html", process="false").json()["id"]
    resp = client.get(f"{F}/{own}/content/html", headers=admin.headers)
    assert resp.status_code == 200 and resp.content == page
    assert resp.headers["content-type"].startswith("text/html")
    # Bob cannot read the admin's file at all.
    assert client.get(f"{F}/{own}/content/html", headers=bob.headers).status_code == 404

    # A user's HTML is never served as HTML, to them or to an admin.
    theirs = upload(client, alice, "x.html", page, "text/html", process="false").json()["id"]
    for who in (alice, admin):
        denied = client.get(f"{F}/{theirs}/content/html", headers=who.headers)
        assert denied.status_code == 404 and denied.json()["detail"]
    assert client.get(f"{F}/missing/content/html", headers=admin.headers).status_code == 404


def test_download_under_any_name(client, alice, bob):
    data = "Ünïcode body\n".encode()
    fid = upload(client, alice, "résumé notes.txt", data, "text/plain").json()["id"]
    wait_done(client, alice, fid)
    resp = client.get(f"{F}/{fid}/content/anything.bin", headers=alice.headers)
    assert resp.status_code == 200 and resp.content == data
    assert (
        resp.headers["content-disposition"]
        == "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20notes.txt"
    )
    assert client.get(f"{F}/{fid}/content/x.txt", headers=bob.headers).status_code == 404
    assert client.get(f"{F}/nope/content/x.txt", headers=alice.headers).status_code == 404

    # The stored bytes gone (an admin reset the uploads): the extracted text is served instead.
    blobs = client.app.state.wayline.get(FilesRuntime).blobs
    for path in Path(blobs.root).iterdir():
        path.unlink()
    extracted = client.get(f"{F}/{fid}/data/content", headers=alice.headers).json()["content"]
    assert extracted.startswith("Ünïcode body")
    fallback = client.get(f"{F}/{fid}/content/x.txt", headers=alice.headers)
    assert fallback.status_code == 200
    assert fallback.text == extracted and fallback.headers["content-type"].startswith("text/plain")
    assert fallback.headers["content-disposition"].startswith("attachment; filename*=UTF-8''")
