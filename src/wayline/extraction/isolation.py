"""Extraction in a child process, under a deadline.

Parsers of hostile files can run for hours (a pathological PDF page) or take gigabytes; a
thread cannot be stopped, and its memory stays in the server's heap afterwards. So each
file is extracted in its own process, forked from a small "forkserver" that has the parsing
libraries imported already (about 10 ms per file), and killed when FILE_EXTRACTION_TIMEOUT
passes. The server waits on the result pipe without a thread, so a stuck child costs it
nothing but the process itself. The extractor is chosen here, in the server, so plug-ins
registered at run time are honoured; it is pickled by reference into the child. Given a
path, the child reads the file itself, so the server never holds the bytes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from pathlib import Path
from typing import Any

from wayline.extraction import Extractor, Piece, extract_with, find_extractor
from wayline.extraction.base import ExtractionError, Unreadable, UnsupportedType
from wayline.extraction.limits import ExtractionLimits

# Each branch names its method literally, so the context is typed as the one it is (with `Process`).
_CONTEXT: ForkServerContext | SpawnContext = (
    multiprocessing.get_context("forkserver")
    if "forkserver" in multiprocessing.get_all_start_methods()
    else multiprocessing.get_context("spawn")
)
# Imported once by the forkserver, inherited by every child it forks.
_CONTEXT.set_forkserver_preload(
    [
        "wayline.extraction",
        "wayline.extraction.isolation",
        "wayline.extraction.pdf",
        "wayline.extraction.office",
        "wayline.extraction.html",
        "pypdf",
        "docx",
        "openpyxl",
        "pptx",
        "bs4",
        "charset_normalizer",
    ]
)


# Files up to this size whose extractor declares `inline_safe = True` (work bounded by the input
# size, e.g. decoding text) are extracted in a thread of the server: a child process per small
# file was most of the server's CPU when thousands of abstracts were uploaded.
INLINE_BYTES = 64 * 1024


async def extract_isolated(
    source: bytes | Path, filename: str, content_type: str | None, limits: ExtractionLimits
) -> list[Piece]:
    """`extract` of the bytes (or of the file at `source`) in a child process; a child still
    running after `limits.timeout` is killed (422). Small files of inline-safe types are
    extracted in a thread instead."""
    if not source:
        raise Unreadable("The file is empty")
    extractor = find_extractor(filename, content_type)
    if getattr(extractor, "inline_safe", False):
        data = await _small_bytes(source)
        if data is not None:
            return await asyncio.to_thread(
                extract_with, extractor, data, filename, content_type, limits
            )
    reader, writer = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(
        target=_run_child,
        args=(writer, extractor, source, filename, content_type, limits),
        name="wayline-extract",
        daemon=True,
    )
    try:
        await asyncio.to_thread(child.start)
        writer.close()  # the child holds the only writing end now: its death reads as end-of-file
        if not await _readable(reader, limits.timeout):
            raise Unreadable(
                f"Extracting the text of '{os.path.basename(filename)}' took longer than "
                f"FILE_EXTRACTION_TIMEOUT={limits.timeout:g} s; the file is too complex to process"
            )
        outcome = await asyncio.to_thread(reader.recv)
    except EOFError:
        await asyncio.to_thread(child.join, 5)
        raise Unreadable(
            f"Extracting '{os.path.basename(filename)}' failed: the extraction process died "
            f"(exit code {child.exitcode}), most likely out of memory"
        ) from None
    finally:
        writer.close()
        reader.close()
        if child.is_alive():
            child.kill()
        if child.pid is not None:
            await asyncio.to_thread(child.join)
    return _result(outcome)


async def _small_bytes(source: bytes | Path) -> bytes | None:
    """The bytes of `source` if it holds at most INLINE_BYTES, else None."""
    if isinstance(source, bytes):
        return source if len(source) <= INLINE_BYTES else None

    def read() -> bytes | None:
        with source.open("rb") as fh:
            data = fh.read(INLINE_BYTES + 1)
        return data if len(data) <= INLINE_BYTES else None

    return await asyncio.to_thread(read)


def _result(outcome: tuple[Any, ...]) -> list[Piece]:
    kind, value = outcome
    if kind == "ok":
        return value
    raise (UnsupportedType if kind == UnsupportedType.status else Unreadable)(value)


async def _readable(connection: Connection, timeout: float) -> bool:
    """Wait until the pipe has data (or end-of-file) without tying up a thread."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(connection.fileno(), wake)
    try:
        await asyncio.wait_for(ready, timeout)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(connection.fileno())
        os.set_blocking(
            connection.fileno(), True
        )  # uvloop leaves a watched fd non-blocking; `recv` blocks


def _run_child(
    writer: Connection,
    extractor: Extractor | None,
    source: bytes | Path,
    filename: str,
    content_type: str | None,
    limits: ExtractionLimits,
) -> None:
    try:
        data = source.read_bytes() if isinstance(source, Path) else source
        outcome: tuple[Any, ...] = (
            "ok",
            extract_with(extractor, data, filename, content_type, limits),
        )
    except ExtractionError as exc:
        outcome = (exc.status, exc.message)
    except BaseException as exc:
        reason = f"Could not read '{os.path.basename(filename)}': {type(exc).__name__}: {exc}"
        outcome = (Unreadable.status, reason[:500])
    writer.send(outcome)
    writer.close()
