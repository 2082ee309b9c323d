"""Extraction limits in-process: zip members are inflated by counting, never by trusting headers."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest

from tests.fakes import documents
from tests.security.test_ingestion_bombs import (
    honest_bomb_xlsx,
    lying_docx,
    many_pages_pdf,
    patch_member,
)
from wayline.extraction import Unreadable, extract
from wayline.extraction.limits import MB, ExtractionLimits
from wayline.extraction.zipguard import safe_archive


def test_lying_zip_headers_cost_no_more_memory_than_one_step() -> None:
    bomb = lying_docx(padding_mb=64)  # ~64 KB on disk, headers claim ~200 bytes
    assert len(bomb) < 256 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(Unreadable, match="zip bomb"):
            extract(bomb, "bomb.docx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MB, (
        f"extraction allocated {peak / MB:.0f} MB for a {len(bomb) // 1024} KB file"
    )


def test_headers_claiming_more_than_the_data_are_refused() -> None:
    real = documents.docx("Title", "Body", [["a"]])
    with zipfile.ZipFile(io.BytesIO(real)) as archive:
        body = archive.read("word/document.xml")
    with pytest.raises(Unreadable, match="does not match its zip headers"):
        extract(
            patch_member(real, "word/document.xml", body + b"<!-- more -->"), "claims-more.docx"
        )


def test_the_cap_counts_every_member_and_names_the_setting() -> None:
    limits = ExtractionLimits(unzipped_max_bytes=1 * MB)
    with pytest.raises(Unreadable, match="FILE_EXTRACTION_MAX_SIZE=1 MB"):
        extract(honest_bomb_xlsx(uncompressed_mb=2), "big.xlsx", limits=limits)
    assert (
        extract(honest_bomb_xlsx(uncompressed_mb=2), "big.xlsx")[0].text == "Sheet: S\nx"
    )  # default cap: fine


def test_the_checked_copy_is_the_same_archive_stored() -> None:
    original = documents.pptx([("T", "b")])
    checked = safe_archive(original, "PPTX", ExtractionLimits())
    with zipfile.ZipFile(io.BytesIO(original)) as before, zipfile.ZipFile(checked) as after:
        assert [i.filename for i in before.infolist()] == [i.filename for i in after.infolist()]
        assert all(after.read(i.filename) == before.read(i.filename) for i in before.infolist())
        assert {i.compress_type for i in after.infolist()} == {zipfile.ZIP_STORED}


def test_pdf_page_count_is_checked_before_reading_pages() -> None:
    with pytest.raises(Unreadable, match="51 pages; the limit is PDF_MAX_PAGES=50"):
        extract(many_pages_pdf(51), "long.pdf", limits=ExtractionLimits(pdf_max_pages=50))
    assert (
        len(extract(many_pages_pdf(50), "ok.pdf", limits=ExtractionLimits(pdf_max_pages=50))) == 50
    )
