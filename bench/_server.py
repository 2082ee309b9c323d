"""Start and stop a real `wayline serve` for benchmarks (its own process, its own data dir)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def wayline_server(data_dir: Path | None = None, **env: str) -> Iterator[str]:
    """A server on a fresh temporary DATA_DIR, or on `data_dir` (kept, and reused if it exists)."""
    port = free_port()
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="wayline-bench-"))
    full_env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "WEBUI_SECRET_KEY": "bench-secret-0123456789abcdef0123456789",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "wayline", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("wayline did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def admin_key(url: str) -> str:
    token = httpx.post(
        url + "/api/v1/auths/signup",
        json={"name": "Bench", "email": "bench@example.com", "password": "bench"},
    ).json()["token"]
    return httpx.post(
        url + "/api/v1/auths/api_key", headers={"Authorization": f"Bearer {token}"}
    ).json()["api_key"]
