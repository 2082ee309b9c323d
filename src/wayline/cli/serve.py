"""`wayline serve`: run the server with uvicorn (uvloop + httptools)."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wayline.cli.common import load_settings
from wayline.core.logs import configure_logging
from wayline.core.metrics import MULTIPROCESS_DIR


def register(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the HTTP server", description="Run the HTTP server.")
    serve.add_argument("--host", help="bind address (default: HOST, 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port (default: PORT, 8080)")
    serve.add_argument(
        "--workers", type=_positive, help="worker processes (default: UVICORN_WORKERS, 1)"
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="log every request (off by default: it costs latency)",
    )
    serve.set_defaults(run=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def run(args: argparse.Namespace) -> None:
    import uvicorn

    settings = load_settings()  # validate the environment before forking workers
    host = settings.HOST if args.host is None else args.host
    port = settings.PORT if args.port is None else args.port
    # Each worker builds its own `Settings` from the environment (uvicorn imports the factory
    # by name), so a `--workers` that differs from UVICORN_WORKERS is not seen there. That is
    # safe: the only reader (the credential cache) trusts UVICORN_WORKERS only without a
    # shared bus, and several workers are refused below without REDIS_URL (the shared bus).
    workers = settings.UVICORN_WORKERS if args.workers is None else args.workers
    if workers > 1 and not settings.REDIS_URL:
        sys.exit(
            "wayline: --workers > 1 needs REDIS_URL, "
            "so workers can tell each other about revoked credentials"
        )
    try:
        _ = settings.secret_key  # create the persisted secret once, before workers race for it
    except OSError as exc:
        sys.exit(f"wayline: DATA_DIR={str(settings.DATA_DIR)!r} is not usable: {exc}")
    configure_logging(settings)
    # After a graceful shutdown uvicorn re-raises SIGTERM under the handler it found: without
    # one, the process would die of the signal (exit 143) instead of exiting 0.
    previous = signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        with _shared_metrics(workers):
            _run_uvicorn(uvicorn, settings, args, host, port, workers)
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _shared_metrics(workers: int) -> Iterator[None]:
    """Several workers keep their metrics in files in one directory, and `GET /metrics` on any of
    them sums the files. The variable must be set before the workers start (prometheus-client
    reads it when imported) and the directory must start empty: files left by an earlier run
    would be counted again. An operator's own PROMETHEUS_MULTIPROC_DIR is kept (its `.db` files
    cleared); otherwise a new temporary directory serves this run and is removed after it."""
    given = os.environ.get(MULTIPROCESS_DIR)
    if given:
        try:
            path = Path(given)
            path.mkdir(parents=True, exist_ok=True)
            for stale in path.glob("*.db"):
                stale.unlink()
        except OSError as exc:
            sys.exit(f"wayline: {MULTIPROCESS_DIR}={given!r} is not usable: {exc}")
        yield
        return
    if workers == 1:  # one process: its own memory is the whole count
        yield
        return
    made = tempfile.mkdtemp(prefix="wayline-metrics-")
    os.environ[MULTIPROCESS_DIR] = made
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_DIR]
        shutil.rmtree(made, ignore_errors=True)


def _exit_cleanly(signum: int, frame: object) -> None:
    sys.exit(0)


def _run_uvicorn(
    uvicorn: Any, settings: Any, args: argparse.Namespace, host: str, port: int, workers: int
) -> None:
    uvicorn.run(
        "wayline.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=args.access_log,
        log_level=settings.LOG_LEVEL.lower(),
        timeout_graceful_shutdown=int(settings.GRACEFUL_SHUTDOWN_TIMEOUT),
        # X-Forwarded-For is believed only from these peers (the per-address sign-in limit uses it).
        proxy_headers=True,
        forwarded_allow_ips=settings.FORWARDED_ALLOW_IPS,
    )
