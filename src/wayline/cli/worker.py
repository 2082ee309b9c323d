"""`wayline worker`: a process that runs ingestion jobs and serves no HTTP.

Uploads are jobs in the database (`files/ingestion.py`): any process built on the same database
may claim them. A worker is the application without its HTTP server, its lifespan run in full,
so an upload completes exactly as in a replica (the knowledge collection it joins, its progress,
the usage of its embedding calls). API replicas started with `INGEST_WORKERS=0` leave every
job to the workers; on a shared bus (`REDIS_URL`) a new upload wakes them at once, otherwise
they poll every 2 s. Stopping (SIGTERM, Ctrl-C) gives the jobs in hand back to the queue.
`--metrics-port` serves the worker's own Prometheus metrics, as no API replica can see them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from wayline.cli.common import load_settings
from wayline.core.logs import configure_logging
from wayline.core.settings import Settings

log = logging.getLogger("wayline.worker")


def register(sub: Any) -> None:
    cmd = sub.add_parser(
        "worker",
        help="run ingestion jobs only (no HTTP API)",
        description=(
            "Extract, chunk, embed and index uploaded files, claiming the jobs from the database "
            "that the API replicas share. Run one or more beside replicas started with "
            "INGEST_WORKERS=0."
        ),
    )
    cmd.add_argument(
        "--workers",
        type=_positive,
        help="embedding calls at once (default: INGEST_WORKERS, or 1 when that is 0)",
    )
    cmd.add_argument(
        "--metrics-port",
        type=int,
        help="serve this worker's Prometheus metrics (ingestion, embedding calls) on this port",
    )
    cmd.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="the address the metrics port listens on (default 127.0.0.1; they carry no secret, "
        "but no sign-in guards them either)",
    )
    cmd.set_defaults(run=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def run(args: argparse.Namespace) -> None:
    settings = load_settings()
    workers = args.workers or settings.INGEST_WORKERS or 1
    # No searches run here: the in-memory copy of the vectors would only cost memory.
    settings = settings.model_copy(
        update={"INGEST_WORKERS": workers, "VECTOR_MEMORY_MAX_CHUNKS": 0}
    )
    configure_logging(settings)
    if args.metrics_port is not None:
        from prometheus_client import start_http_server

        from wayline.core.metrics import registry

        # A thread of prometheus-client's own: a scrape never waits on the jobs' event loop.
        start_http_server(args.metrics_port, addr=args.metrics_host, registry=registry())
        log.info("metrics on http://%s:%d/metrics", args.metrics_host, args.metrics_port)
    asyncio.run(work(settings))


async def work(settings: Settings) -> None:
    from wayline.app import create_app

    app = create_app(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with app.router.lifespan_context(app):
        log.info(
            "wayline worker ready: ingestion jobs, %d embedding call(s) at once",
            settings.INGEST_WORKERS,
        )
        await stopping.wait()
    log.info("wayline worker stopped: unfinished jobs went back to the queue")
