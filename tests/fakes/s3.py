"""An S3-compatible server for tests and benchmarks: moto's `moto_server` (from PyPI, the
`moto[server]` test extra) run as its own process on a free loopback port.

- `MotoS3().start()` → `.url`, `.env(bucket, prefix)` (the `STORAGE_PROVIDER=s3` settings as
  environment variables, for `live_server` / subprocesses), `.client()` (a boto3 client to
  look into the bucket directly), `.create_bucket(name)`, `.keys(bucket)`, `.stop()`.
- Fixtures (registered in tests/fakes/fixtures.py): `s3_server` (one per test session) and
  `s3_bucket` (a fresh, empty bucket per test; yields its name).

moto keeps everything in memory and accepts any credentials; one server holds any number of
buckets, so tests share it and stay apart by bucket.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

ACCESS_KEY = "wayline-test-key"
SECRET_KEY = "wayline-test-secret"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoS3:
    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoS3:
        exe = shutil.which("moto_server")
        command = [exe] if exe else [sys.executable, "-m", "moto.server"]
        env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
        self._proc = subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError("moto_server exited at start (pip install 'moto[server]')")
            try:
                httpx.get(self.url + "/moto-api/", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto_server did not start within 60 s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"wl-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        """Every object key in `bucket` (and any multipart upload left open, marked `…#upload`)."""
        client = self.client()
        keys = [
            obj["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for obj in page.get("Contents", [])
        ]
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return sorted(keys + [f"{u['Key']}#upload" for u in uploads])

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        return {
            "STORAGE_PROVIDER": "s3",
            "S3_ENDPOINT_URL": self.url,
            "S3_REGION_NAME": REGION,
            "S3_BUCKET_NAME": bucket,
            "S3_KEY_PREFIX": prefix,
            "S3_ACCESS_KEY_ID": ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3]:
    server = MotoS3().start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: MotoS3) -> str:
    return s3_server.create_bucket()
