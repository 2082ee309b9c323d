"""Where uploaded bytes live: the `BlobStore` protocol and the local-directory store
(`DATA_DIR/uploads`).

Blob names are `{file_id}_{original name}` like Open WebUI; the stored `path` is the
store's own key, so another store (S3, …) can be one more module. File systems allow 255
*bytes* per name, and a name of 200 emoji is 800: the key keeps as many whole characters
of the name as fit (and its extension), while the file row keeps the name as uploaded.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import BinaryIO, Protocol

from wayline.core import errors

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
MAX_NAME_CHARS = 1024  # a display name beyond this is shortened (extension kept)
MAX_KEY_BYTES = 255 - len(".part")  # NAME_MAX, less the suffix of the file being written
MAX_EXTENSION_CHARS = 16


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


class BlobStore(Protocol):
    async def put(self, key: str, source: BinaryIO, max_bytes: int | None) -> tuple[str, int, str]:
        """Store `source` under `key`; returns (path, size, sha256). Over `max_bytes` → 413,
        nothing kept."""
        ...

    async def get_path(self, path: str) -> Path | None: ...

    async def read(self, path: str) -> bytes: ...

    async def delete(self, path: str) -> None: ...

    async def delete_all(self) -> None: ...


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _resolve(self, path: str) -> Path:
        full = (self.root / os.path.basename(path)).resolve()
        if full.parent != self.root:
            raise errors.NotFound()
        return full

    def _put_sync(self, key: str, source: BinaryIO, max_bytes: int | None) -> tuple[str, int, str]:
        target = self._resolve(key)
        tmp = target.with_name(target.name + ".part")
        digest, size = hashlib.sha256(), 0
        try:
            with open(tmp, "wb") as out:
                while block := source.read(1 << 20):
                    size += len(block)
                    if max_bytes is not None and size > max_bytes:
                        raise errors.PayloadTooLarge(too_large_detail(max_bytes))
                    digest.update(block)
                    out.write(block)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target.name, size, digest.hexdigest()

    async def put(self, key: str, source: BinaryIO, max_bytes: int | None) -> tuple[str, int, str]:
        return await asyncio.to_thread(self._put_sync, key, source, max_bytes)

    async def get_path(self, path: str) -> Path | None:
        full = self._resolve(path)
        return full if full.is_file() else None

    async def read(self, path: str) -> bytes:
        return await asyncio.to_thread(self._resolve(path).read_bytes)

    async def delete(self, path: str) -> None:
        if path:
            self._resolve(path).unlink(missing_ok=True)

    async def delete_all(self) -> None:
        def wipe() -> None:
            # Uploads still being written (`.part`) are left to finish: their rows come after.
            for entry in self.root.iterdir():
                if entry.name.endswith(".part"):
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

        await asyncio.to_thread(wipe)


def too_large_detail(max_bytes: int) -> str:
    return f"File size exceeds the maximum allowed size of {max_bytes // (1024 * 1024)} MB"
