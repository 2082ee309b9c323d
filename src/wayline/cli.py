"""`wayline serve`: run the server with uvicorn (uvloop + httptools)."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from typing import TYPE_CHECKING, Any

from wayline import __version__

if TYPE_CHECKING:
    from pydantic import ValidationError

    from wayline.core.settings import Settings

# Values of these settings may hold credentials: a complaint names the setting, never echoes it.
_SECRET_NAME = re.compile(r"KEY|PASSWORD|SECRET|URL|CONFIGS")
_MAX_ECHO = 80


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="wayline", description="Wayline LLM gateway")
    parser.add_argument("--version", action="version", version=f"wayline {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server")
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
    args = parser.parse_args(argv)

    if args.command == "serve":
        _serve(args)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _serve(args: argparse.Namespace) -> None:
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
    logging.basicConfig(
        level=settings.LOG_LEVEL, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
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


def load_settings() -> Settings:
    """`Settings()` from the environment, or exit with one line per invalid variable (status 2)."""
    from pydantic import ValidationError

    from wayline.core.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        for line in describe(exc):
            print(f"wayline: {line}", file=sys.stderr)
        sys.exit(2)


def describe(exc: ValidationError) -> list[str]:
    """One line per invalid setting: its name, the value, what is accepted."""
    from wayline.core.settings import Settings, choices, not_one_of

    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc = error.get("loc") or ()
        name = str(loc[0]) if loc else ""
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        value: Any = error.get("input")
        field = Settings.model_fields.get(name)
        if not name or field is None:
            lines.append(message)  # a rule across settings (its message names them)
        elif error.get("type") == "literal_error":
            lines.append(not_one_of(name, value, choices(field.annotation)))
        elif _SECRET_NAME.search(name) or not isinstance(value, str | int | float):
            lines.append(message if message.startswith(name) else f"{name} is invalid: {message}")
        else:
            shown = value if len(str(value)) <= _MAX_ECHO else f"{str(value)[:_MAX_ECHO]}…"
            lines.append(f"{name}={shown!r} is invalid: {message}")
    return lines


if __name__ == "__main__":
    main()
