"""Any valid Unicode file name round-trips: 300 multi-byte characters are ~900 bytes, far beyond
the file system's 255-byte limit for a name, and used to answer 500."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from tests.api.test_files import chunks, upload, uploads_dir, wait_done
from tests.conftest import Account

NAMES = [
    "é" * 300 + ".txt",  # 2 bytes each
    "長い名前のファイル" * 34 + ".md",  # 3 bytes each
    "📄🚀✨" * 100 + ".txt",  # 4 bytes each
    "Résumé – 履歴書 – 📄 " * 17 + "final version.txt",  # mixed, with spaces and a dash
]


def disposition_name(header: str) -> str:
    assert "filename*=utf-8''" in header.lower(), header
    return unquote(header.split("''", 1)[1])


@pytest.mark.parametrize("name", NAMES, ids=["latin", "cjk", "emoji", "mixed"])
def test_long_multibyte_file_name_round_trips(
    client: TestClient, alice: Account, name: str
) -> None:
    assert len(name) >= 300 and len(name.encode()) > 255
    resp = upload(
        client, alice, name, b"Notes about very long file names.", process_in_background="false"
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["filename"] == name and body["meta"]["name"] == name
    file_id = body["id"]

    got = client.get(f"/api/v1/files/{file_id}", headers=alice.headers).json()
    assert (
        got["filename"] == name
        and got["meta"]["name"] == name
        and got["data"]["status"] == "completed"
    )
    listed = client.get("/api/v1/files/", headers=alice.headers).json()["items"]
    assert [f["filename"] for f in listed] == [name]
    assert {m["name"] for _, m in chunks(client, file_id)} == {name}

    download = client.get(f"/api/v1/files/{file_id}/content?attachment=true", headers=alice.headers)
    assert download.status_code == 200 and download.content == b"Notes about very long file names."
    assert download.headers["content-disposition"].startswith("attachment")
    assert disposition_name(download.headers["content-disposition"]) == name

    assert client.delete(f"/api/v1/files/{file_id}", headers=alice.headers).status_code == 200
    assert uploads_dir(client) == []


def test_long_name_in_the_background_and_twice(client: TestClient, alice: Account) -> None:
    name = NAMES[2]
    first = upload(client, alice, name, b"Same name, first upload.").json()["id"]
    second = upload(client, alice, name, b"Same name, second upload.").json()["id"]
    assert (
        wait_done(client, alice, first)["status"]
        == wait_done(client, alice, second)["status"]
        == "completed"
    )
    stored = uploads_dir(client)
    assert len(stored) == 2 and all(len(p.name.encode()) <= 255 for p in stored)
    names = {
        client.get(f"/api/v1/files/{i}", headers=alice.headers).json()["filename"]
        for i in (first, second)
    }
    assert names == {name}
