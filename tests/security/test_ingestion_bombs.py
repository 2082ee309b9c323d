"""Hostile documents: decompression bombs, zip headers that lie, page bombs, extraction that
never ends.

Each file is built here, small, and the limits are lowered for the test (a 1 MB cap instead of
256 MB, 50 pages instead of 2,000), so the refusals are reached in milliseconds."""

from __future__ import annotations

import io
import struct
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_files import chunks, upload, uploads_dir, wait_done
from tests.conftest import Account, signup
from tests.fakes import documents
from wayline.core.settings import Settings
from wayline.extraction import Piece, register, unregister
from wayline.extraction.limits import ExtractionLimits

DOCUMENT_XML = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    b"<w:body><w:p><w:r><w:t>tiny</w:t></w:r></w:p></w:body></w:document>"
)


def lying_docx(padding_mb: int) -> bytes:
    """A real .docx whose `word/document.xml` is a small valid document followed, in the same
    deflate stream, by `padding_mb` MB of blanks; both zip headers claim only the small
    document's size and CRC.

    A reader that trusts the headers gets a valid document (zipfile stops at the claimed size), but
    inflates the whole stream in one call first: the server's memory grows by the padding."""
    real = documents.docx("Title", "Body", [["a"]])
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(real)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            body = source.read(info)
            if info.filename == "word/document.xml":
                body = DOCUMENT_XML + b" " * (padding_mb * 1024 * 1024)
            target.writestr(info.filename, body)
    return patch_member(out.getvalue(), "word/document.xml", DOCUMENT_XML)


def patch_member(archive: bytes, name: str, claimed: bytes) -> bytes:
    """Rewrite `name`'s CRC and uncompressed size in its local header and central directory entry
    so that both describe `claimed` instead of the data actually stored."""
    data = bytearray(archive)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        local = opened.getinfo(name).header_offset
    crc, size = struct.pack("<I", zlib.crc32(claimed)), struct.pack("<I", len(claimed))
    assert data[local : local + 4] == b"PK\x03\x04"
    data[local + 14 : local + 18], data[local + 22 : local + 26] = crc, size
    entry = _central_entry(archive, name)
    data[entry + 16 : entry + 20], data[entry + 24 : entry + 28] = crc, size
    return bytes(data)


def _central_entry(data: bytes, name: str) -> int:
    start = data.find(b"PK\x01\x02")
    while start != -1:
        name_len = struct.unpack("<H", data[start + 28 : start + 30])[0]
        if data[start + 46 : start + 46 + name_len] == name.encode():
            return start
        start = data.find(b"PK\x01\x02", start + 46)
    raise AssertionError(f"{name} not in the central directory")


def honest_bomb_xlsx(uncompressed_mb: int) -> bytes:
    """A real .xlsx plus one member that honestly declares `uncompressed_mb` MB (deflates to a
    few KB)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(documents.xlsx({"S": [["x"]]}))) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
        target.writestr("xl/media/blank.bin", b"\0" * (uncompressed_mb * 1024 * 1024))
    return out.getvalue()


def many_pages_pdf(pages: int) -> bytes:
    """A PDF with `pages` pages, written by pypdf (each page says its number)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(
        clone_from=PdfReader(io.BytesIO(documents.pdf([f"page {i}" for i in range(pages)])))
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class HangingExtractor:
    """An extractor (plug-in) that never finishes: stands in for a pathological page or parser
    loop."""

    extensions = frozenset({"hang"})
    content_types: frozenset[str] = frozenset()

    def extract(self, data: bytes, filename: str, limits: ExtractionLimits) -> list[Piece]:
        time.sleep(3600)
        return [Piece("never")]


@pytest.fixture
def hanging_extractor() -> Iterator[HangingExtractor]:
    extractor = HangingExtractor()
    register(extractor)
    yield extractor
    unregister(extractor)


@pytest.fixture
def hostile(
    make_settings: Callable[..., Settings], make_client: Callable[[Settings], TestClient]
) -> tuple[TestClient, Account]:
    client = make_client(
        make_settings(FILE_EXTRACTION_MAX_SIZE=1, PDF_MAX_PAGES=50, FILE_EXTRACTION_TIMEOUT=5)
    )
    return client, signup(client, "Admin")


def assert_failed_in_background(
    client: TestClient, who: Account, name: str, data: bytes, reason: str
) -> dict[str, Any]:
    file_id = upload(client, who, name, data).json()["id"]
    status = wait_done(client, who, file_id)
    assert status["status"] == "failed", status
    assert reason in status["error"], status
    full = client.get(f"/api/v1/files/{file_id}", headers=who.headers).json()
    assert full["data"]["status"] == "failed" and reason in full["data"]["error"]
    assert chunks(client, file_id) == []
    return status


def assert_refused_in_sync(
    client: TestClient, who: Account, name: str, data: bytes, reason: str
) -> None:
    before = client.get("/api/v1/files/", headers=who.headers).json()["total"]
    blobs = uploads_dir(client)
    resp = upload(client, who, name, data, process_in_background="false")
    assert resp.status_code == 422, resp.text
    assert reason in resp.json()["detail"]
    assert client.get("/api/v1/files/", headers=who.headers).json()["total"] == before
    assert uploads_dir(client) == blobs


def test_decompression_bomb_with_lying_zip_headers_fails(
    hostile: tuple[TestClient, Account],
) -> None:
    client, admin = hostile
    bomb = lying_docx(padding_mb=8)
    assert len(bomb) < 64 * 1024
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:  # what the headers claim
        assert archive.getinfo("word/document.xml").file_size == len(DOCUMENT_XML)
    assert_failed_in_background(client, admin, "bomb.docx", bomb, "zip bomb")
    assert_refused_in_sync(client, admin, "bomb.docx", bomb, "zip bomb")


def test_honest_archive_beyond_the_extraction_cap_fails(
    hostile: tuple[TestClient, Account],
) -> None:
    client, admin = hostile
    bomb = honest_bomb_xlsx(uncompressed_mb=3)
    assert_failed_in_background(client, admin, "big.xlsx", bomb, "FILE_EXTRACTION_MAX_SIZE")
    assert_refused_in_sync(client, admin, "big.xlsx", bomb, "FILE_EXTRACTION_MAX_SIZE")


def test_pdf_page_bomb_fails_with_the_page_limit(hostile: tuple[TestClient, Account]) -> None:
    client, admin = hostile
    assert_failed_in_background(client, admin, "long.pdf", many_pages_pdf(51), "PDF_MAX_PAGES")
    assert_refused_in_sync(client, admin, "long.pdf", many_pages_pdf(51), "PDF_MAX_PAGES")
    ok = upload(client, admin, "fifty.pdf", many_pages_pdf(50), process_in_background="false")
    assert ok.status_code == 200, ok.text
    assert len(chunks(client, ok.json()["id"])) == 50


def test_extraction_that_never_ends_is_stopped_and_the_worker_moves_on(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    hanging_extractor: HangingExtractor,
) -> None:
    client = make_client(make_settings(FILE_EXTRACTION_TIMEOUT=1))
    admin = signup(client, "Admin")
    stuck = upload(client, admin, "stuck.hang", b"anything").json()["id"]
    after = upload(client, admin, "after.txt", b"A small file queued behind the stuck one.").json()[
        "id"
    ]
    status = wait_done(client, admin, stuck)
    assert status["status"] == "failed" and "FILE_EXTRACTION_TIMEOUT" in status["error"], status
    assert wait_done(client, admin, after)["status"] == "completed"
    assert_refused_in_sync(client, admin, "stuck.hang", b"anything", "FILE_EXTRACTION_TIMEOUT")
