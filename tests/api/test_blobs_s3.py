"""`STORAGE_PROVIDER=s3`: uploads in a bucket of a real S3-compatible server (moto_server on
loopback, tests/fakes/s3.py), looked into directly with boto3. The local uploads folder stays
empty throughout."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tests.conftest import SECRET, Account, LiveServer, free_port, signup
from tests.e2e.cli import cli_env, ok, one_line_failure, wayline
from tests.fakes import documents
from tests.fakes.s3 import MotoS3
from wayline.core import errors
from wayline.core.settings import Settings
from wayline.files.blobs.s3 import PART, S3BlobStore

F = "/api/v1/files"
R = "/api/v1/retrieval"
PREFIX = "tenant-a"
TEXT = "Umbridge harbour ships indigo crates by zebra convoy every second Tuesday.\n" * 20


@pytest.fixture
def settings(make_settings: Callable[..., Settings], s3_server: MotoS3, s3_bucket: str) -> Settings:
    return make_settings(**s3_server.env(s3_bucket, PREFIX), RAG_FILE_MAX_SIZE=8)


def upload(client: TestClient, who: Account, name: str, data: bytes, **params: Any) -> Any:
    query = "&".join(f"{k}={str(v).lower()}" for k, v in params.items())
    return client.post(f"{F}/?{query}", files={"file": (name, data)}, headers=who.headers)


def wait_done(client: TestClient, who: Account, file_id: str) -> dict[str, Any]:
    for _ in range(1200):
        body = client.get(f"{F}/{file_id}/process/status", headers=who.headers).json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"file {file_id} still {body}")


def local_uploads(settings: Settings) -> list[Path]:
    folder = settings.DATA_DIR / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_upload_process_search_download_delete_through_the_bucket(
    client: TestClient, alice: Account, s3_server: MotoS3, s3_bucket: str, settings: Settings
) -> None:
    data = TEXT.encode()
    up = upload(client, alice, "harbour.txt", data)
    assert up.status_code == 200, up.text
    file_id = up.json()["id"]
    key = f"{PREFIX}/{up.json()['path']}"
    assert s3_server.keys(s3_bucket) == [key]
    assert up.json()["meta"]["file_hash"] == hashlib.sha256(data).hexdigest()

    # A PDF too: its extraction reads a local copy fetched from the bucket.
    pdf = documents.pdf(["The torque of the flange bolts is 40 Nm."])
    up_pdf = upload(client, alice, "manual.pdf", pdf)
    assert up_pdf.status_code == 200, up_pdf.text
    pdf_id = up_pdf.json()["id"]
    assert wait_done(client, alice, file_id)["status"] == "completed"
    assert wait_done(client, alice, pdf_id)["status"] == "completed"

    for collection, query, want in (
        (f"file-{file_id}", "zebra convoy indigo", "zebra convoy"),
        (f"file-{pdf_id}", "flange bolt torque", "40 Nm"),
    ):
        found = client.post(
            f"{R}/query/doc",
            json={"collection_name": collection, "query": query},
            headers=alice.headers,
        )
        assert found.status_code == 200, found.text
        assert want in found.json()["documents"][0][0]

    content = client.get(f"{F}/{file_id}/content", headers=alice.headers)
    assert content.status_code == 200 and content.content == data
    assert content.headers["content-length"] == str(len(data))
    assert content.headers["content-disposition"] == 'inline; filename="harbour.txt"'
    named = client.get(f"{F}/{pdf_id}/content/any-name.pdf", headers=alice.headers)
    assert named.status_code == 200 and named.content == pdf
    assert named.headers["content-type"] == "application/pdf"
    assert named.headers["content-disposition"] == "attachment; filename*=UTF-8''manual.pdf"

    part = client.get(f"{F}/{file_id}/content", headers={**alice.headers, "Range": "bytes=5-14"})
    assert part.status_code == 206 and part.content == data[5:15]
    assert part.headers["content-range"] == f"bytes 5-14/{len(data)}"
    tail = client.get(f"{F}/{file_id}/content", headers={**alice.headers, "Range": "bytes=-7"})
    assert tail.status_code == 206 and tail.content == data[-7:]
    past = client.get(f"{F}/{file_id}/content", headers={**alice.headers, "Range": "bytes=99999-"})
    assert past.status_code == 416 and "Range not satisfiable" in past.json()["detail"]

    assert client.delete(f"{F}/{file_id}", headers=alice.headers).status_code == 200
    assert s3_server.keys(s3_bucket) == [f"{PREFIX}/{up_pdf.json()['path']}"]
    assert client.delete(f"{F}/{pdf_id}", headers=alice.headers).status_code == 200
    assert s3_server.keys(s3_bucket) == []
    assert local_uploads(settings) == []


def test_another_user_reads_nothing_from_the_bucket(
    client: TestClient, alice: Account, bob: Account
) -> None:
    file_id = upload(client, alice, "secret.txt", b"alice's notes", process=False).json()["id"]
    for path in (f"{F}/{file_id}/content", f"{F}/{file_id}/content/secret.txt"):
        assert client.get(path, headers=bob.headers).status_code == 404
    assert client.get(f"{F}/{file_id}/content", headers=alice.headers).content == b"alice's notes"


def test_large_upload_is_multipart_and_over_the_limit_keeps_nothing(
    client: TestClient, alice: Account, s3_server: MotoS3, s3_bucket: str
) -> None:
    big = bytes(range(256)) * (6 * 4096)  # 6 MiB: more than one part
    assert len(big) > PART
    up = upload(client, alice, "big.bin", big, process=False)
    assert up.status_code == 200, up.text
    assert up.json()["meta"]["size"] == len(big)
    got = client.get(f"{F}/{up.json()['id']}/content", headers=alice.headers)
    assert got.status_code == 200 and hashlib.sha256(got.content).digest() == (
        hashlib.sha256(big).digest()
    )

    too_big = upload(client, alice, "huge.bin", b"\0" * (9 << 20), process=False)
    assert too_big.status_code == 413 and "8 MB" in too_big.json()["detail"]
    assert s3_server.keys(s3_bucket) == [f"{PREFIX}/{up.json()['path']}"]
    listed = client.get(f"{F}/", headers=alice.headers).json()
    assert [f["id"] for f in listed["items"]] == [up.json()["id"]]


class _Unsized(io.RawIOBase):
    """A body that cannot say its size up front (not seekable): only counting can stop it."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = b"\1" * n
        self.left -= n
        return n


def test_a_stream_over_the_limit_aborts_its_multipart_upload(
    make_settings: Callable[..., Settings], s3_server: MotoS3, s3_bucket: str
) -> None:
    store = S3BlobStore.from_settings(make_settings(**s3_server.env(s3_bucket, PREFIX)))

    async def put(size: int, limit: int) -> Any:
        return await store.put("k.bin", io.BufferedReader(_Unsized(size)), limit)

    with pytest.raises(errors.PayloadTooLarge):
        asyncio.run(put(12 << 20, 7 << 20))
    assert s3_server.keys(s3_bucket) == []  # no object and no multipart upload left open
    path, size, _ = asyncio.run(put(11 << 20, 12 << 20))
    assert (path, size) == ("k.bin", 11 << 20)
    assert s3_server.keys(s3_bucket) == [f"{PREFIX}/k.bin"]


def test_a_blob_gone_from_the_bucket_is_404(
    client: TestClient, alice: Account, s3_server: MotoS3, s3_bucket: str
) -> None:
    up = upload(client, alice, "gone.txt", b"soon gone", process=False).json()
    s3_server.client().delete_object(Bucket=s3_bucket, Key=f"{PREFIX}/{up['path']}")
    missing = client.get(f"{F}/{up['id']}/content", headers=alice.headers)
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"The content of file {up['id']} is not in storage"
    # Processing it now fails with the reason instead of hanging.
    assert client.post(f"{R}/process/file", json={"file_id": up["id"]}, headers=alice.headers)
    assert wait_done(client, alice, up["id"])["status"] == "failed"


def test_reset_uploads_deletes_under_the_prefix_only(
    client: TestClient, admin: Account, alice: Account, s3_server: MotoS3, s3_bucket: str
) -> None:
    s3_server.client().put_object(Bucket=s3_bucket, Key="other-app/keep.txt", Body=b"not ours")
    for name in ("a.txt", "b.txt"):
        assert upload(client, alice, name, b"bytes of " + name.encode(), process=False).is_success
    assert len(s3_server.keys(s3_bucket)) == 3
    assert client.post(f"{R}/reset/uploads", headers=alice.headers).status_code == 401
    resp = client.post(f"{R}/reset/uploads", headers=admin.headers)
    assert resp.status_code == 200 and resp.json() is True
    assert s3_server.keys(s3_bucket) == ["other-app/keep.txt"]


@pytest.mark.parametrize("problem", ["unreachable", "no bucket"])
def test_storage_down_upload_is_503_and_keeps_no_row(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    s3_server: MotoS3,
    problem: str,
) -> None:
    env = s3_server.env("no-such-bucket" if problem == "no bucket" else "any", PREFIX)
    if problem == "unreachable":
        env["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = make_client(make_settings(**env))
    alice = signup(client, "Alice")
    resp = upload(client, alice, "notes.txt", b"some notes")
    assert resp.status_code == 503, resp.text
    detail = resp.json()["detail"]
    assert "Object storage" in detail and "bucket" in detail
    assert client.get(f"{F}/", headers=alice.headers).json()["total"] == 0


def test_bucket_down_after_upload_download_is_503_and_delete_still_deletes(
    make_settings: Callable[..., Settings], make_client: Callable[[Settings], TestClient]
) -> None:
    own = MotoS3().start()  # a server of its own, to stop
    try:
        bucket = own.create_bucket()
        client = make_client(make_settings(**own.env(bucket, PREFIX)))
        alice = signup(client, "Alice")
        file_id = upload(client, alice, "a.txt", b"stored", process=False).json()["id"]
    finally:
        own.stop()
    down = client.get(f"{F}/{file_id}/content", headers=alice.headers)
    assert down.status_code == 503 and "Object storage" in down.json()["detail"]
    # The row goes (its bytes cannot, and are logged): the user's delete is not refused.
    assert client.delete(f"{F}/{file_id}", headers=alice.headers).status_code == 200
    assert client.get(f"{F}/{file_id}", headers=alice.headers).status_code == 404


def test_s3_without_a_bucket_is_a_configuration_error(
    make_settings: Callable[..., Settings],
) -> None:
    with pytest.raises(ValidationError, match="S3_BUCKET_NAME"):
        make_settings(STORAGE_PROVIDER="s3")
    with pytest.raises(ValidationError, match="S3_SECRET_ACCESS_KEY"):
        make_settings(STORAGE_PROVIDER="S3", S3_BUCKET_NAME="b", S3_ACCESS_KEY_ID="only-the-id")
    assert make_settings(STORAGE_PROVIDER="S3", S3_BUCKET_NAME="b").STORAGE_PROVIDER == "s3"


def test_backup_says_the_uploads_are_in_the_bucket(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    s3_server: MotoS3,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    # `wayline backup` is for the embedded SQLite database, whatever the suite runs on.
    database = f"sqlite:///{tmp_path / 'backed-up.db'}"
    settings = make_settings(DATABASE_URL=database, **s3_server.env(s3_bucket, PREFIX))
    client = make_client(settings)
    alice = signup(client, "Alice")
    assert upload(client, alice, "kept.txt", b"in the bucket", process=False).is_success
    env = cli_env(settings.DATA_DIR, database, secret=SECRET, **s3_server.env(s3_bucket, PREFIX))
    dest = tmp_path / "backup"
    out = ok(wayline("backup", str(dest), env=env)).stdout
    assert f"in the bucket s3://{s3_bucket}/{PREFIX}/" in out and "not copied" in out
    assert list((dest / "uploads").iterdir()) == []
    assert len(s3_server.keys(s3_bucket)) == 1


def test_a_served_process_configured_by_environment_uses_the_bucket(
    live_server_factory: Callable[..., LiveServer],
    s3_server: MotoS3,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    server = live_server_factory(**s3_server.env(s3_bucket, PREFIX))
    with httpx.Client(base_url=server.url) as http:
        alice = signup(http, "Alice")
        body = {"file": ("a.txt", b"from a process")}
        up = http.post(f"{F}/?process=false", files=body, headers=alice.headers)
        assert up.status_code == 200, up.text
        assert s3_server.keys(s3_bucket) == [f"{PREFIX}/{up.json()['path']}"]
        got = http.get(f"{F}/{up.json()['id']}/content", headers=alice.headers)
        assert got.status_code == 200 and got.content == b"from a process"
    assert not any((Path(server.env["DATA_DIR"]) / "uploads").glob("*"))


def test_serve_refuses_s3_without_a_bucket_in_one_line(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data", STORAGE_PROVIDER="s3")
    line = one_line_failure(wayline("serve", "--port", str(free_port()), env=env), code=2)
    assert "S3_BUCKET_NAME" in line
