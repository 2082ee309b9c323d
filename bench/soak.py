"""Mixed-load soak: many users at once against a real `wayline serve`; nothing lost, nothing leaked.

Starts the fake upstream (tests/fakes/upstream.py, its own process) and `wayline serve`
(its own process, DATA_DIR and database: SQLite by default, or a fresh database created
on the PostgreSQL server of `--database-url` and dropped afterwards), then runs
`tests/soak/runner.py`: N users sign up and, for T seconds, sign in, cycle API keys,
create presets, upload, build collections, chat over them, search, list and delete —
each user's data marked with its own canary. Afterwards every acknowledged upload must
settle, the database must hold no orphan, and no user may ever have seen another's canary.
Prints p50/p99 per operation and every failure (5xx bodies, server tracebacks); exits 1
on any failed invariant. Traffic goes to 127.0.0.1 only.

    python bench/soak.py --users 50 --seconds 60 [--database-url postgresql://…] [--embedder local]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import free_port  # noqa: E402
from chat_gateway import start_fake  # noqa: E402

from tests.soak.runner import SoakConfig, run_soak, server_env, server_log_errors  # noqa: E402


@contextmanager
def fresh_database(url: str | None, data_dir: Path, keep: bool) -> Iterator[str]:
    """SQLite in `data_dir`, or a new database on the PostgreSQL server of `url` (dropped after)."""
    if not url:
        yield f"sqlite:///{data_dir / 'wayline.db'}"
        return
    import psycopg

    base, _, _ = url.rpartition("/")
    name = f"wl_soak_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        if not keep:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def wayline(
    env: dict[str, str], data_dir: Path, database_url: str, log_path: Path
) -> Iterator[str]:
    port = free_port()
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OLLAMA_", "RAG_"))
    }
    full_env |= {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "WEBUI_SECRET_KEY": "soak-secret-0123456789abcdef0123456789",
        **env,
    }
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wayline", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"wayline serve did not start; see {log_path}")
            try:
                if httpx.get(url + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--think", type=float, default=0.02, help="mean pause between a user's operations (s)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=120.0,
        help="max wait for uploads to finish after the load (s)",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="postgresql://… of a server to create a fresh database on",
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="do not drop the PostgreSQL database afterwards"
    )
    parser.add_argument(
        "--embedder",
        choices=("fake", "local"),
        default="fake",
        help="fake = the fake upstream's embeddings (default); local = bundled MiniLM on the CPU",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="wayline-soak-"))
    data_dir, log_path = work / "data", work / "server.log"
    data_dir.mkdir()
    config = SoakConfig(
        users=args.users, seconds=args.seconds, think=args.think, settle_seconds=args.settle
    )
    fake, fake_port = start_fake()
    try:
        with fresh_database(args.database_url, data_dir, args.keep_db) as database_url:
            env = server_env(f"http://127.0.0.1:{fake_port}/v1", args.embedder)
            with wayline(env, data_dir, database_url, log_path) as url:
                print(f"soak: {url} on {database_url.partition('://')[0]}, data {work}", flush=True)
                result = asyncio.run(run_soak(url, database_url, data_dir, config))
    finally:
        fake.terminate()
        fake.wait(10)
    result.server_errors = server_log_errors(log_path)
    print(result.report())
    print(f"\nserver log: {log_path}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
