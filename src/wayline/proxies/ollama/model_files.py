"""Model files into an Ollama connection (admin, Open WebUI's `/ollama/models/upload[/{url_idx}]`
and `/ollama/models/download[/{url_idx}]`).

An upload (a GGUF file) is hashed, pushed as a blob (`POST /api/blobs/sha256:<digest>`) and
made a model named after the file (`POST /api/create` with `files`). A download fetches the
file from Hugging Face or GitHub (the only sources Open WebUI allows) into a temporary file
under `DATA_DIR`, then pushes it as a blob. Both stream their progress as SSE `data:` records:
`{progress, completed, total}` while the file is read, then `{done: true, blob, name}` (plus
`model_created` for an upload), or `{error}`: the status line is sent before the work starts.
Files are read in chunks and never held in memory whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from fastapi import UploadFile
from fastapi.responses import StreamingResponse

from wayline.core import errors
from wayline.core.http import UpstreamClient
from wayline.core.streams import STREAM_FAILURES, event_stream, sse_event
from wayline.providers.connections import Connection
from wayline.proxies.upstreams import Upstreams

CHUNK = 2 * 1024 * 1024
SOURCES = ("https://huggingface.co/", "https://github.com/")


def _progress(done: int, total: int) -> bytes:
    percent = round(done / total * 100, 2) if total else 100.0
    return sse_event({"progress": percent, "completed": done, "total": total})


async def _chunks(read: Callable[[int], Awaitable[bytes]]) -> AsyncIterator[bytes]:
    while chunk := await read(CHUNK):
        yield chunk


def _failure(exc: BaseException) -> bytes:
    return sse_event({"error": str(errors.redact(getattr(exc, "detail", None) or exc))})


class ModelFiles:
    def __init__(self, http: UpstreamClient, upstreams: Upstreams, data_dir: Path) -> None:
        self._http = http
        self._up = upstreams
        self._spool_dir = data_dir / "cache" / "ollama-model-files"

    def _connection(self, index: int | None) -> Connection:
        return self._up.connection("ollama", index or 0)  # Open WebUI's default: the first

    async def _push(self, conn: Connection, blob: str, body: AsyncIterator[bytes]) -> None:
        headers = {k: v for k, v in conn.headers.items() if k.lower() != "content-type"}
        resp = await self._http.request(
            "POST", f"{conn.url}/api/blobs/{blob}", data=body, headers=headers
        )
        resp.raise_for_status()

    # --- upload ---------------------------------------------------------------------------
    def upload(self, index: int | None, upload: UploadFile) -> StreamingResponse:
        conn = self._connection(index)
        filename = os.path.basename(upload.filename or "")
        if not filename:
            raise errors.BadRequest("The uploaded file has no name", param="file")
        return event_stream(self._upload(conn, upload, filename))

    async def _upload(
        self, conn: Connection, upload: UploadFile, filename: str
    ) -> AsyncIterator[bytes]:
        try:
            total, done, digest = upload.size or 0, 0, hashlib.sha256()
            await upload.seek(0)
            async for chunk in _chunks(upload.read):
                await asyncio.to_thread(digest.update, chunk)
                done += len(chunk)
                yield _progress(done, total or done)
            blob = f"sha256:{digest.hexdigest()}"
            await upload.seek(0)
            await self._push(conn, blob, _chunks(upload.read))
            model = os.path.splitext(filename)[0]
            created = await self._http.request(
                "POST",
                f"{conn.url}/api/create",
                json={"model": model, "files": {filename: blob}, "stream": False},
                headers=conn.headers,
            )
            created.raise_for_status()
            yield sse_event({"done": True, "blob": blob, "name": filename, "model_created": model})
        except STREAM_FAILURES as exc:
            yield _failure(exc)

    # --- download -------------------------------------------------------------------------
    def download(self, index: int | None, url: str) -> StreamingResponse:
        if not url.startswith(SOURCES):
            raise errors.BadRequest(
                "Invalid file_url. Only URLs from allowed hosts are permitted: "
                + ", ".join(SOURCES),
                param="url",
            )
        filename = os.path.basename(urlsplit(url).path)
        if not filename:
            raise errors.BadRequest("The URL names no file", param="url")
        return event_stream(self._download(self._connection(index), url, filename))

    async def _download(self, conn: Connection, url: str, filename: str) -> AsyncIterator[bytes]:
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        try:
            with tempfile.TemporaryFile(dir=self._spool_dir) as spool:
                digest = hashlib.sha256()
                async for record in self._fetch(url, spool, digest):
                    yield record
                blob = f"sha256:{digest.hexdigest()}"
                await asyncio.to_thread(spool.seek, 0)
                await self._push(conn, blob, _chunks(_reader(spool)))
            yield sse_event({"done": True, "blob": blob, "name": filename})
        except STREAM_FAILURES as exc:
            yield _failure(exc)

    async def _fetch(self, url: str, spool: IO[bytes], digest: Any) -> AsyncIterator[bytes]:
        async with self._http.stream("GET", url, headers={}) as resp:
            await resp.raise_for_status()
            total, done, reported = int(resp.headers.get("Content-Length") or 0), 0, 0
            async for chunk in resp.iter_chunks():
                await asyncio.to_thread(spool.write, chunk)
                digest.update(chunk)
                done += len(chunk)
                if done - reported >= CHUNK:  # a record per chunk read, not per network read
                    reported = done
                    yield _progress(done, total or done)
            if done != reported:
                yield _progress(done, total or done)


def _reader(spool: IO[bytes]) -> Callable[[int], Awaitable[bytes]]:
    async def read(size: int) -> bytes:
        return await asyncio.to_thread(spool.read, size)

    return read
