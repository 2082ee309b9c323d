"""Where uploaded bytes live: the `BlobStore` protocol, and how blobs are named.

Blob names are `{file_id}_{original name}` like Open WebUI; the stored `path` is that key,
relative to the store (a directory, or a bucket and `S3_KEY_PREFIX`). File systems allow 255
*bytes* per name, and a name of 200 emoji is 800: the key keeps as many whole characters
of the name as fit (and its extension), while the file row keeps the name as uploaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from wayline.core import errors

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
MAX_NAME_CHARS = 1024  # a display name beyond this is shortened (extension kept)
MAX_KEY_BYTES = 255 - len(".part")  # NAME_MAX, less the suffix of the file being written
MAX_EXTENSION_CHARS = 16
BLOCK = 1 << 20  # bytes read or sent at a time, both ways
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def safe_name(filename: str) -> str:
    """The display name: base name only, no control characters or separators, valid UTF-8."""
    name = _UNSAFE.sub("_", os.path.basename(filename.replace("\\", "/"))).strip().lstrip(".")
    name = name.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot be stored
    if len(name) > MAX_NAME_CHARS:
        stem, ext = _split_extension(name)
        name = stem[: MAX_NAME_CHARS - len(ext)] + ext
    return name or "file"


def blob_key(file_id: str, name: str) -> str:
    """`{file_id}_{name}`, the name cut to whole UTF-8 characters so the key fits in 255 bytes."""
    prefix = f"{file_id}_"
    budget = MAX_KEY_BYTES - len(prefix.encode())
    if len(name.encode()) <= budget:
        return prefix + name
    stem, ext = _split_extension(name)
    room = budget - len(ext.encode())
    return prefix + stem.encode()[:room].decode("utf-8", "ignore") + ext


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if stem and dot and len(ext) <= MAX_EXTENSION_CHARS:
        return stem, dot + ext
    return name, ""


class StorageUnavailable(errors.ServiceUnavailable):
    """The blob store cannot be reached or refuses us (bucket down, credentials refused): 503,
    the detail naming the storage, so nothing is half written."""


class RangeNotSatisfiable(errors.WaylineError):
    status_code = 416


@dataclass
class Blob:
    """A stored blob opened for reading: `size` is the whole blob's, `start`..`end` (inclusive)
    the bytes `chunks` yields (all of them unless a range was asked for)."""

    size: int
    start: int
    end: int
    chunks: AsyncIterator[bytes]

    @property
    def length(self) -> int:
        return self.end - self.start + 1


# A byte range as HTTP asks for it: (first, last) with either side open, last inclusive.
ByteRange = tuple[int | None, int | None]


class BlobStore(Protocol):
    """Where the bytes of uploads live. Paths are the store's own keys (`blob_key`); a missing
    blob is `FileNotFoundError`, a store that fails is `StorageUnavailable`. Nothing here
    holds a whole file in memory except `read`, which is for small blobs (images)."""

    async def put(self, key: str, source: BinaryIO, max_bytes: int | None) -> tuple[str, int, str]:
        """Store `source` (read in blocks) under `key`; returns (path, size, sha256). Over
        `max_bytes` → 413, nothing kept."""
        ...

    def local_path(self, path: str) -> Path | None:
        """The blob's file on this host when the store is a local directory (it may not exist);
        None for a remote store."""
        ...

    async def open(self, path: str, byte_range: ByteRange | None = None) -> Blob:
        """The blob (or `byte_range` of it) as a stream of blocks. A range that cannot be
        satisfied is `RangeNotSatisfiable`."""
        ...

    def materialized(self, path: str) -> AbstractAsyncContextManager[Path]:
        """A local file holding the blob while the context lasts (the blob's own file for a
        local store, a temporary copy fetched in blocks and removed after for a remote one)."""
        ...

    async def read(self, path: str) -> bytes: ...

    async def delete(self, path: str) -> None: ...

    async def delete_all(self) -> None:
        """Every blob of this store (under its prefix only)."""
        ...


def parse_range(header: str | None) -> ByteRange | None:
    """An HTTP `Range: bytes=a-b` (one range; `a-` and `-n` too); None for no header or a form
    we do not serve (several ranges), which is then answered whole, as HTTP allows."""
    match = _RANGE.match((header or "").strip())
    if match is None or match.group(0) == "bytes=-":
        return None
    first, last = (int(g) if g else None for g in match.groups())
    return first, last


def resolve_range(byte_range: ByteRange | None, size: int) -> tuple[int, int]:
    """(start, end inclusive) of `byte_range` in a blob of `size` bytes; the whole blob for
    None. `RangeNotSatisfiable` (416) when it starts past the end or is empty."""
    if byte_range is None:
        return 0, size - 1
    first, last = byte_range
    if first is None:  # the last `last` bytes
        start, end = max(size - (last or 0), 0), size - 1
    else:
        start, end = first, size - 1 if last is None else min(last, size - 1)
    if start >= size or start > end:
        raise RangeNotSatisfiable(
            f"Range not satisfiable: the file has {size} bytes",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


def too_large_detail(max_bytes: int) -> str:
    return f"File size exceeds the maximum allowed size of {max_bytes // (1024 * 1024)} MB"
