"""`wayline serve`: run the server with uvicorn (uvloop + httptools)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from wayline import __version__


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="wayline", description="Wayline LLM gateway")
    parser.add_argument("--version", action="version", version=f"wayline {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("UVICORN_WORKERS", "1")))
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="log every request (off by default: it costs latency)",
    )
    args = parser.parse_args(argv)

    if args.command == "serve":
        _serve(args)


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from wayline.core.settings import Settings

    settings = Settings()  # validate the environment before forking workers
    if args.workers > 1 and not settings.REDIS_URL:
        sys.exit(
            "wayline: --workers > 1 needs REDIS_URL, so workers can tell each other about revoked credentials"
        )
    os.environ["UVICORN_WORKERS"] = str(args.workers)
    settings.secret_key  # create the persisted secret once, before workers race for it
    logging.basicConfig(
        level=settings.LOG_LEVEL, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        "wayline.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=args.access_log,
        log_level=settings.LOG_LEVEL.lower(),
        timeout_graceful_shutdown=10,
        # X-Forwarded-For is believed only from these peers (the per-address sign-in limit uses it).
        proxy_headers=True,
        forwarded_allow_ips=settings.FORWARDED_ALLOW_IPS,
    )


if __name__ == "__main__":
    main()
