"""Upload metadata (the multipart `metadata` field) is bounded before anything is stored, and the
upload size limit (`RAG_FILE_MAX_SIZE`, 100 MB by default) still refuses with 413 and keeps
nothing."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient

from tests.api.test_files import upload, uploads_dir
from tests.conftest import Account, signup
from wayline.core.settings import Settings


def post_with_metadata(client: TestClient, who: Account, metadata: str) -> httpx.Response:
    return client.post(
        "/api/v1/files/",
        files={"file": ("a.txt", b"some text")},
        data={"metadata": metadata},
        headers=who.headers,
    )


def nested(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


def test_deeply_nested_metadata_is_refused_and_listing_still_works(
    client: TestClient, alice: Account, bob: Account, admin: Account
) -> None:
    resp = post_with_metadata(client, alice, nested(300))
    assert resp.status_code == 422, resp.text
    assert (
        resp.json()["detail"][0]["loc"][0] == "metadata"
        and "nested" in resp.json()["detail"][0]["msg"]
    )
    very_deep = post_with_metadata(
        client, alice, "[" * 20000 + "]" * 20000
    )  # deeper than the JSON parser goes
    assert very_deep.status_code == 422 and very_deep.json()["detail"][0]["loc"] == ["metadata"]
    assert uploads_dir(client) == []
    for who in (alice, bob, admin):
        listing = client.get("/api/v1/files/", headers=who.headers)
        assert listing.status_code == 200 and listing.json() == {"items": [], "total": 0}

    ok = post_with_metadata(client, alice, nested(20))
    assert ok.status_code == 200, ok.text
    assert client.get("/api/v1/files/", headers=admin.headers).json()["total"] == 1


def test_oversized_metadata_is_refused(client: TestClient, alice: Account) -> None:
    resp = post_with_metadata(client, alice, json.dumps({"notes": "x" * (65 * 1024)}))
    assert resp.status_code == 422 and "64 KiB" in resp.json()["detail"]
    assert uploads_dir(client) == []
    assert post_with_metadata(client, alice, json.dumps({"notes": "x" * 60_000})).status_code == 200


def test_metadata_file_hash_must_be_a_string(client: TestClient, alice: Account) -> None:
    resp = post_with_metadata(client, alice, json.dumps({"file_hash": {"not": "a hash"}}))
    assert resp.status_code == 422 and "file_hash" in resp.json()["detail"]
    assert client.get("/api/v1/files/", headers=alice.headers).json()["total"] == 0
    good = post_with_metadata(client, alice, json.dumps({"file_hash": "abc123"}))
    assert good.json()["meta"]["file_hash"] == "abc123"


def test_upload_size_limit_defaults_to_100_mb_and_refuses_before_storing(
    make_settings: Callable[..., Settings], make_client: Callable[[Settings], TestClient]
) -> None:
    assert make_settings().file_max_bytes == 100 * 1024 * 1024
    client = make_client(make_settings(RAG_FILE_MAX_SIZE=1))
    admin = signup(client, "Admin")
    resp = upload(client, admin, "big.txt", b"a" * (1024 * 1024 + 1), process_in_background="false")
    assert resp.status_code == 413 and "1 MB" in resp.json()["detail"]
    body = (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="s.txt"\r\n\r\n'
        + b"a" * (2 * 1024 * 1024)
        + b"\r\n--x--\r\n"
    )
    streamed = client.post(
        "/api/v1/files/",
        content=iter([body]),  # an iterator: sent without Content-Length
        headers={**admin.headers, "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert streamed.status_code == 413  # no Content-Length: counted while it streams
    assert client.get("/api/v1/files/", headers=admin.headers).json()["total"] == 0
    assert uploads_dir(client) == []
