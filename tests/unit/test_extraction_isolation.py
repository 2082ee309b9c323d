"""Extraction in a child process: results of any size come back, a child that hangs is killed at
the deadline, one that dies (as the OOM killer would do it) is a readable failure, on asyncio
and uvloop."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop

from tests.security.test_ingestion_bombs import HangingExtractor
from wayline.extraction import Piece, Unreadable, register, unregister
from wayline.extraction.isolation import extract_isolated
from wayline.extraction.limits import ExtractionLimits


class DyingExtractor:
    extensions = frozenset({"die"})
    content_types: frozenset[str] = frozenset()

    def extract(self, data: bytes, filename: str, limits: ExtractionLimits) -> list[Piece]:
        os.kill(os.getpid(), signal.SIGKILL)
        return []


@pytest.fixture(autouse=True)
def plugins() -> Iterator[None]:
    extractors = [HangingExtractor(), DyingExtractor()]
    for extractor in extractors:
        register(extractor)
    yield
    for extractor in extractors:
        unregister(extractor)


Runner = Callable[[Coroutine[Any, Any, Any]], Any]
RUNNERS: dict[str, Runner] = {"asyncio": asyncio.run, "uvloop": uvloop.run}


@pytest.mark.parametrize("loop", RUNNERS)
def test_large_results_come_back_whole(loop: str) -> None:
    text = "".join(f"line {i} of a long plain text file\n" for i in range(100_000))  # ~3.5 MB
    pieces = RUNNERS[loop](extract_isolated(text.encode(), "big.txt", None, ExtractionLimits()))
    assert [p.text for p in pieces] == [text]


def test_a_file_on_disk_is_read_by_the_child(tmp_path: Path) -> None:
    from tests.fakes import documents

    path = tmp_path / "report.docx"
    path.write_bytes(documents.docx("Heading", "Read by the extraction process.", [["a"]]))
    [piece] = asyncio.run(extract_isolated(path, "report.docx", None, ExtractionLimits()))
    assert "Read by the extraction process." in piece.text
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(Unreadable, match="empty"):
        asyncio.run(extract_isolated(tmp_path / "empty.txt", "empty.txt", None, ExtractionLimits()))


@pytest.mark.parametrize("loop", RUNNERS)
def test_a_hanging_child_is_killed_at_the_deadline(loop: str) -> None:
    with pytest.raises(Unreadable, match=r"FILE_EXTRACTION_TIMEOUT=0\.5 s"):
        RUNNERS[loop](extract_isolated(b"x", "stuck.hang", None, ExtractionLimits(timeout=0.5)))
    assert multiprocessing.active_children() == []


def test_a_child_that_dies_is_a_readable_failure() -> None:
    with pytest.raises(Unreadable, match="extraction process died"):
        asyncio.run(extract_isolated(b"x", "boom.die", None, ExtractionLimits()))


def test_refusals_keep_their_status() -> None:
    from wayline.extraction import UnsupportedType

    with pytest.raises(UnsupportedType, match="not supported"):
        asyncio.run(extract_isolated(b"\x89PNG\r\n", "a.png", "image/png", ExtractionLimits()))
    with pytest.raises(Unreadable, match="empty"):
        asyncio.run(extract_isolated(b"", "a.txt", None, ExtractionLimits()))


class PidExtractor:
    """Reports the process it ran in; inline-safe like the text extractor."""

    extensions = frozenset({"pid"})
    content_types: frozenset[str] = frozenset()
    inline_safe = True

    def extract(self, data: bytes, filename: str, limits: ExtractionLimits) -> list[Piece]:
        return [Piece(str(os.getpid()))]


def test_small_inline_safe_files_are_extracted_in_the_server(tmp_path: Path) -> None:
    """Up to INLINE_BYTES, an inline-safe extractor runs in the server (no child per small file);
    above, in a child process as every other extractor does."""
    from wayline.extraction.isolation import INLINE_BYTES

    extractor = PidExtractor()
    register(extractor)
    try:
        small, big = tmp_path / "small.pid", tmp_path / "big.pid"
        small.write_bytes(b"x" * INLINE_BYTES)
        big.write_bytes(b"x" * (INLINE_BYTES + 1))
        limits = ExtractionLimits(timeout=30)

        async def pids() -> list[str]:
            return [
                (await extract_isolated(path, path.name, None, limits))[0].text
                for path in (small, big)
            ]

        inline, isolated = asyncio.run(pids())
        assert inline == str(os.getpid()) and isolated != str(os.getpid())
    finally:
        unregister(extractor)
