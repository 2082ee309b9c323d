"""The local-directory blob store (`STORAGE_PROVIDER=local`, `DATA_DIR/uploads`): for one host.

A blob is written to `<key>.part` and renamed when complete, so a reader (or `wayline backup`)
never sees half a file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO

from wayline.core import errors
from wayline.files.blobs.base import (
    BLOCK,
    Blob,
    ByteRange,
    resolve_range,
    too_large_detail,
)

PARTIAL = ".part"


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
        tmp = target.with_name(target.name + PARTIAL)
        digest, size = hashlib.sha256(), 0
        try:
            with open(tmp, "wb") as out:
                while block := source.read(BLOCK):
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

    def local_path(self, path: str) -> Path | None:
        return self._resolve(path)

    async def open(self, path: str, byte_range: ByteRange | None = None) -> Blob:
        full = self._resolve(path)
        handle = await asyncio.to_thread(open, full, "rb")  # FileNotFoundError when missing
        size = os.fstat(handle.fileno()).st_size
        start, end = resolve_range(byte_range, size)

        async def chunks() -> AsyncIterator[bytes]:
            try:
                await asyncio.to_thread(handle.seek, start)
                left = end - start + 1
                while left > 0:
                    block = await asyncio.to_thread(handle.read, min(BLOCK, left))
                    if not block:
                        return
                    left -= len(block)
                    yield block
            finally:
                handle.close()

        return Blob(size=size, start=start, end=end, chunks=chunks())

    @asynccontextmanager
    async def materialized(self, path: str) -> AsyncIterator[Path]:
        full = self._resolve(path)
        if not full.is_file():
            raise FileNotFoundError(path)
        yield full

    async def read(self, path: str) -> bytes:
        return await asyncio.to_thread(self._resolve(path).read_bytes)

    async def delete(self, path: str) -> None:
        if path:
            self._resolve(path).unlink(missing_ok=True)

    async def delete_all(self) -> None:
        def wipe() -> None:
            # Uploads still being written (`.part`) are left to finish: their rows come after.
            for entry in self.root.iterdir():
                if entry.name.endswith(PARTIAL):
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

        await asyncio.to_thread(wipe)
