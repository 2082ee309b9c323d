"""`wayline`: the server (`serve`) and the operator's commands, one module per command group.

Every command reads settings as the server does (environment, `.env`, defaults) and fails
with one line, `wayline: <what went wrong>`, and a non-zero status: 1 for a refusal or a
failure, 2 for invalid settings or arguments. `WAYLINE_DEBUG=1` shows the traceback of an
unexpected error instead.
"""

from __future__ import annotations

import argparse
import os
import sys

from wayline import __version__
from wayline.cli import backup, config, ingest, keys, migrate, serve, users, worker
from wayline.cli.common import CliError, describe, load_settings

__all__ = ["describe", "load_settings", "main"]

GROUPS = (serve, worker, migrate, users, keys, config, ingest, backup)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="wayline", description="Wayline LLM gateway")
    root.add_argument("--version", action="version", version=f"wayline {__version__}")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except CliError as exc:
        _fail(exc.message, exc.code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:
        if os.environ.get("WAYLINE_DEBUG"):
            raise
        _fail(_one_line(exc), 1)


def _one_line(exc: BaseException) -> str:
    """An unexpected error, in one line: the database driver's own message when there is one."""
    orig = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
    shown = orig if isinstance(orig, BaseException) else exc
    text = " ".join(str(shown).split()) or type(shown).__name__
    return f"{type(shown).__name__}: {text[:500]} (WAYLINE_DEBUG=1 shows the traceback)"


def _fail(message: str, code: int) -> None:
    print(f"wayline: {message}", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
