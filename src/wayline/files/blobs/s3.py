"""The S3 blob store (`STORAGE_PROVIDER=s3`): uploads in a bucket every replica reaches, under
`S3_KEY_PREFIX`, through `obstore` (the `s3` extra).

Why obstore: `bench/blobstore.py` put and got 100 × 64 KiB and 3 × 50 MiB on moto_server with
obstore, aioboto3 and boto3 in a thread (three runs on a shared, loaded two-core machine). On
small blobs, the usual upload, obstore had the lowest latency (p50 3–5 ms per put or get against
7–22 ms for boto3 and 7–41 ms for aioboto3) and the least client CPU (1.0–1.4 ms per operation
against 3–5.5 ms). On 50 MiB blobs boto3's threaded transfers put faster (24–116 MB/s against
17–66 MB/s) and the gets were all in the noise (114–880 MB/s), moto itself being the limit.
Uploads are mostly small and the CPU is shared with the gateway, so obstore: one Rust wheel
without Python dependencies, async without a thread pool. boto3 brings botocore (28 MB) and runs
in threads; aioboto3 pins botocore to its own release (installing it downgraded boto3 here).
This store on top of obstore (sha256 and size check included) measured like obstore itself.

Streaming: an upload is read from the spooled request body in 1 MiB blocks; one that fits in a
part is one PUT, a larger one a multipart upload of 5 MiB parts (at most 4 in flight), which
obstore aborts when the body fails or passes `max_bytes` (413): nothing is kept. Downloads are
streamed block by block; ingestion gets a temporary local copy, fetched in blocks.

Errors: a missing object is `FileNotFoundError`; an unreachable server, a refused credential
or a missing bucket is `StorageUnavailable` (503) naming the bucket. Retries are few and short,
so a request fails in seconds rather than hanging while the bucket is down.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar
from urllib.parse import urlsplit, urlunsplit

import obstore
from obstore.store import S3Store

from wayline.core import errors
from wayline.files.blobs.base import (
    BLOCK,
    Blob,
    ByteRange,
    StorageUnavailable,
    resolve_range,
    too_large_detail,
)

if TYPE_CHECKING:
    from obstore import GetOptions

    from wayline.core.settings import Settings

PART = 5 << 20  # S3's smallest multipart part; also the most an upload sends in one PUT
PARTS_IN_FLIGHT = 4
T = TypeVar("T")


class S3BlobStore:
    def __init__(self, store: S3Store, bucket: str) -> None:
        self.store, self.bucket = store, bucket

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        config: dict[str, Any] = {}
        endpoint = settings.S3_ENDPOINT_URL.strip().rstrip("/")
        style = settings.S3_ADDRESSING_STYLE
        # boto's `auto`: path style on a server of one's own, virtual hosts on AWS.
        virtual = style == "virtual" or (style == "auto" and not endpoint)
        if endpoint:
            bucket_host = _with_bucket_host(endpoint, settings.S3_BUCKET_NAME)
            config["endpoint"] = bucket_host if virtual else endpoint
        if settings.S3_REGION_NAME:
            config["region"] = settings.S3_REGION_NAME
        if settings.S3_ACCESS_KEY_ID:
            config["access_key_id"] = settings.S3_ACCESS_KEY_ID
            config["secret_access_key"] = settings.S3_SECRET_ACCESS_KEY
        store = S3Store(
            settings.S3_BUCKET_NAME,
            prefix=settings.S3_KEY_PREFIX.strip("/") or None,
            virtual_hosted_style_request=virtual,
            client_options={
                "allow_http": endpoint.startswith("http://"),
                "connect_timeout": timedelta(seconds=5),
                "timeout": timedelta(minutes=5),  # one request: a 5 MiB part, a whole get
            },
            retry_config={
                "max_retries": 2,
                "retry_timeout": timedelta(seconds=10),
                "backoff": {
                    "init_backoff": timedelta(milliseconds=100),
                    "max_backoff": timedelta(seconds=2),
                    "base": 2,
                },
            },
            **config,
        )
        return cls(store, settings.S3_BUCKET_NAME)

    async def _call(self, call: Awaitable[T], *, missing_is_unavailable: bool = False) -> T:
        """`call`, with obstore's failures as ours: a missing object stays `FileNotFoundError`
        (unless the caller knows nothing can be missing: then the bucket is), anything else is
        the storage failing."""
        try:
            return await call
        except FileNotFoundError as exc:  # obstore's NotFoundError is one
            if missing_is_unavailable:
                raise self._unavailable(exc) from None
            raise
        except obstore.exceptions.BaseError as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: BaseException) -> StorageUnavailable:
        reason = str(exc).split("\n", 1)[0][:300]
        return StorageUnavailable(f"Object storage (S3 bucket {self.bucket!r}) failed: {reason}")

    async def put(self, key: str, source: BinaryIO, max_bytes: int | None) -> tuple[str, int, str]:
        known = _remaining(source)
        if max_bytes is not None and known is not None and known > max_bytes:
            raise errors.PayloadTooLarge(too_large_detail(max_bytes))  # nothing sent at all
        digest, size = hashlib.sha256(), 0
        if known is not None and known <= PART:
            data = await asyncio.to_thread(source.read, PART + 1)
            size = len(data)
            if max_bytes is not None and size > max_bytes:
                raise errors.PayloadTooLarge(too_large_detail(max_bytes))
            digest.update(data)
            await self._call(obstore.put_async(self.store, key, data), missing_is_unavailable=True)
            return key, size, digest.hexdigest()

        async def blocks() -> AsyncIterator[bytes]:
            nonlocal size
            while block := await asyncio.to_thread(source.read, BLOCK):
                size += len(block)
                if max_bytes is not None and size > max_bytes:
                    raise errors.PayloadTooLarge(too_large_detail(max_bytes))
                digest.update(block)
                yield block

        # An exception from `blocks` aborts the multipart upload and comes out as itself.
        await self._call(
            obstore.put_async(
                self.store, key, blocks(), chunk_size=PART, max_concurrency=PARTS_IN_FLIGHT
            ),
            missing_is_unavailable=True,
        )
        return key, size, digest.hexdigest()

    def local_path(self, path: str) -> Path | None:
        return None

    async def open(self, path: str, byte_range: ByteRange | None = None) -> Blob:
        options: GetOptions = {}
        if byte_range is not None:
            head = await self._call(obstore.head_async(self.store, path))
            start, end = resolve_range(byte_range, int(head["size"]))
            options["range"] = (start, end + 1)
        result = await self._call(obstore.get_async(self.store, path, options=options))
        size = int(result.meta["size"])
        first, stop = result.range

        async def chunks() -> AsyncIterator[bytes]:
            stream = result.stream(min_chunk_size=BLOCK)
            try:
                async for chunk in stream:
                    yield bytes(chunk)
            except obstore.exceptions.BaseError as exc:
                raise self._unavailable(exc) from None

        return Blob(size=size, start=first, end=stop - 1, chunks=chunks())

    @asynccontextmanager
    async def materialized(self, path: str) -> AsyncIterator[Path]:
        blob = await self.open(path)
        fd, name = tempfile.mkstemp(prefix="wayline-blob-", suffix=Path(path).suffix[:16])
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in blob.chunks:
                    await asyncio.to_thread(out.write, chunk)
            yield Path(name)
        finally:
            await asyncio.to_thread(Path(name).unlink, missing_ok=True)

    async def read(self, path: str) -> bytes:
        result = await self._call(obstore.get_async(self.store, path))
        return bytes(await self._call(result.bytes_async()))

    async def delete(self, path: str) -> None:
        if path:
            await self._call(obstore.delete_async(self.store, path), missing_is_unavailable=True)

    async def delete_all(self) -> None:
        """Every object under the key prefix (the whole bucket when there is none)."""

        async def each_batch() -> None:
            async for batch in obstore.list(self.store, chunk_size=1000):
                paths = [meta["path"] for meta in batch]
                if paths:
                    await obstore.delete_async(self.store, paths)

        await self._call(each_batch(), missing_is_unavailable=True)


def _remaining(source: BinaryIO) -> int | None:
    """Bytes left in `source` when it can tell (a spooled upload can), else None."""
    try:
        if not source.seekable():
            return None
        here = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(here)
        return end - here
    except (OSError, AttributeError, ValueError):
        return None


def _with_bucket_host(endpoint: str, bucket: str) -> str:
    """`https://s3.example.com` → `https://<bucket>.s3.example.com` (obstore's virtual-hosted
    requests take the bucket's own endpoint)."""
    parts = urlsplit(endpoint)
    if parts.netloc.startswith(f"{bucket}."):
        return endpoint
    return urlunsplit(parts._replace(netloc=f"{bucket}.{parts.netloc}"))
