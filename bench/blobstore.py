"""Object-storage clients compared on the same S3-compatible server (moto_server on loopback):
put and get of many small blobs and of a few large ones, streamed both ways (the upload read
from a file in 1 MiB blocks, the download consumed block by block, never a whole body held).

    python bench/blobstore.py [--small 100] [--large 3] [--large-mib 50]

Prints MB/s and per-operation latency for each client found installed (`obstore`, `aioboto3`,
`boto3` in a thread), for Wayline's S3 store built on the chosen one (`wayline-s3`: obstore
plus the sha256 and size check of every upload) and for the local-directory store. moto is slow
itself (pure Python, in memory), so only the relative figures between clients mean something.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.s3 import ACCESS_KEY, REGION, SECRET_KEY, MotoS3

BLOCK = 1 << 20
PART = 8 << 20

Put = Callable[[str, Path], Awaitable[None]]
Get = Callable[[str], Awaitable[int]]


async def obstore_client(url: str, bucket: str) -> tuple[Put, Get]:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        bucket,
        endpoint=url,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )

    async def put(key: str, path: Path) -> None:
        with open(path, "rb") as source:  # noqa: ASYNC230 (a bench: local disk)
            await obstore.put_async(store, key, source, chunk_size=PART, max_concurrency=4)

    async def get(key: str) -> int:
        result = await obstore.get_async(store, key)
        return sum([len(chunk) async for chunk in result.stream(min_chunk_size=BLOCK)])

    return put, get


async def aioboto3_client(url: str, bucket: str) -> tuple[Put, Get]:
    import aioboto3
    from boto3.s3.transfer import TransferConfig

    session = aioboto3.Session()
    ctx = session.client(
        "s3",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    client = await ctx.__aenter__()
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=4)

    async def put(key: str, path: Path) -> None:
        with open(path, "rb") as source:  # noqa: ASYNC230 (a bench: local disk)
            await client.upload_fileobj(source, bucket, key, Config=config)

    async def get(key: str) -> int:
        response = await client.get_object(Bucket=bucket, Key=key)
        body = response["Body"]
        try:
            return sum([len(chunk) async for chunk in body.iter_chunks(BLOCK)])
        finally:
            body.close()

    return put, get


async def boto3_client(url: str, bucket: str) -> tuple[Put, Get]:
    import boto3
    from boto3.s3.transfer import TransferConfig

    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=4)

    def put_sync(key: str, path: Path) -> None:
        with open(path, "rb") as source:
            client.upload_fileobj(source, bucket, key, Config=config)

    def get_sync(key: str) -> int:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        return sum(len(chunk) for chunk in body.iter_chunks(BLOCK))

    async def put(key: str, path: Path) -> None:
        await asyncio.to_thread(put_sync, key, path)

    async def get(key: str) -> int:
        return await asyncio.to_thread(get_sync, key)

    return put, get


async def wayline_s3(url: str, bucket: str) -> tuple[Put, Get]:
    """Wayline's own S3 store (obstore underneath, sha256 and size limit on top)."""
    from tests.fakes.s3 import MotoS3
    from wayline.core.settings import Settings
    from wayline.files.blobs.s3 import S3BlobStore

    server = MotoS3()
    server.url = url
    store = S3BlobStore.from_settings(Settings(**server.env(bucket)))  # type: ignore[arg-type]

    async def put(key: str, path: Path) -> None:
        with open(path, "rb") as source:  # noqa: ASYNC230 (a bench: local disk)
            await store.put(key, source, None)

    async def get(key: str) -> int:
        blob = await store.open(key)
        return sum([len(chunk) async for chunk in blob.chunks])

    return put, get


async def local_store(root: Path) -> tuple[Put, Get]:
    from wayline.files.blobs import LocalBlobStore

    store = LocalBlobStore(root)

    async def put(key: str, path: Path) -> None:
        with open(path, "rb") as source:  # noqa: ASYNC230 (a bench: local disk)
            await store.put(key, source, None)

    async def get(key: str) -> int:
        blob = await store.open(key)
        return sum([len(chunk) async for chunk in blob.chunks])

    return put, get


async def measure(name: str, client: tuple[Put, Get], files: dict[str, list[Path]]) -> None:
    put, get = client
    for label, paths in files.items():
        size = sum(p.stat().st_size for p in paths)
        for verb in ("put", "get"):
            latencies: list[float] = []
            cpu, start = time.process_time(), time.perf_counter()
            for i, path in enumerate(paths):
                t0 = time.perf_counter()
                if verb == "put":
                    await put(f"bench/{label}/{i}", path)
                else:
                    got = await get(f"bench/{label}/{i}")
                    assert got == path.stat().st_size, (got, path)
                latencies.append(time.perf_counter() - t0)
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu  # this process only (all its threads), not moto's
            print(
                f"{name:10} {label:14} {verb}  {size / elapsed / 1e6:8.1f} MB/s   "
                f"p50 {statistics.median(latencies) * 1000:8.1f} ms   "
                f"max {max(latencies) * 1000:8.1f} ms   "
                f"client CPU {cpu / len(paths) * 1000:7.1f} ms/op"
            )


def make_files(folder: Path, count: int, size: int, label: str) -> list[Path]:
    paths = []
    for i in range(count):
        path = folder / f"{label}-{i}"
        with open(path, "wb") as out:
            left = size
            while left:
                n = min(left, BLOCK)
                out.write(os.urandom(n))
                left -= n
        paths.append(path)
    return paths


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100, help="blobs of 64 KiB")
    parser.add_argument("--large", type=int, default=3, help="large blobs")
    parser.add_argument("--large-mib", type=int, default=50, help="size of a large blob")
    parser.add_argument("--clients", default="obstore,aioboto3,boto3,wayline-s3,local")
    args = parser.parse_args()
    candidates: dict[str, Callable[[str, str], Awaitable[tuple[Put, Get]]]] = {
        "obstore": obstore_client,
        "aioboto3": aioboto3_client,
        "boto3": boto3_client,
        "wayline-s3": wayline_s3,
    }
    with tempfile.TemporaryDirectory(prefix="wayline-bench-blobs-") as tmp:
        folder = Path(tmp)
        files = {
            f"{args.small}x64KiB": make_files(folder, args.small, 64 << 10, "small"),
            f"{args.large}x{args.large_mib}MiB": make_files(
                folder, args.large, args.large_mib << 20, "large"
            ),
        }
        server = MotoS3().start()
        try:
            for name in args.clients.split(","):
                if name == "local":
                    await measure(name, await local_store(folder / "store"), files)
                    continue
                try:
                    client: Any = await candidates[name](server.url, server.create_bucket())
                except ImportError as exc:
                    print(f"{name:10} not installed ({exc})")
                    continue
                await measure(name, client, files)
        finally:
            server.stop()


if __name__ == "__main__":
    io.DEFAULT_BUFFER_SIZE = BLOCK
    asyncio.run(main())
