"""Where uploaded bytes live: the `BlobStore` protocol and the local-directory store (`DATA_DIR/uploads`).

Blob names are `{file_id}_{original name}` like Open WebUI; the stored `path` is the
store's own key, so another store (S3, …) can be one more module.
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

_UNSAFE = re.compile(r"[\x00-\x1f/\\]")


def safe_name(filename: str) -> str:
    name = _UNSAFE.sub("_", os.path.basename(filename.replace("\\", "/"))).strip().lstrip(".")
    return name[:200] or "file"


class BlobStore(Protocol):
    async def put(self, key: str, source: BinaryIO, max_bytes: int | None) -> tuple[str, int, str]:
        """Store `source` under `key`; returns (path, size, sha256). Over `max_bytes` → 413, nothing kept."""
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
            shutil.rmtree(self.root, ignore_errors=True)
            self.root.mkdir(parents=True, exist_ok=True)

        await asyncio.to_thread(wipe)


def too_large_detail(max_bytes: int) -> str:
    return f"File size exceeds the maximum allowed size of {max_bytes // (1024 * 1024)} MB"
