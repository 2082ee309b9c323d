"""`wayline migrate [--check]`: bring the database schema to head without serving, or only say
whether it is there."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from wayline.cli.common import CliError, load_settings
from wayline.cli.database import (
    all_revisions,
    head,
    open_database,
    pending_revisions,
    sqlite_path,
    where,
)

if TYPE_CHECKING:
    from wayline.core.settings import Settings


def register(sub: Any) -> None:
    cmd = sub.add_parser(
        "migrate",
        help="apply database migrations without serving",
        description="Apply the database migrations (what `wayline serve` does at start).",
    )
    cmd.add_argument(
        "--check",
        action="store_true",
        help="change nothing: exit 1, naming the pending migrations, unless at head",
    )
    cmd.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    settings = load_settings()
    path = sqlite_path(settings)
    if args.check and path is not None and not path.exists():
        # Opening the file would create it: a check changes nothing.
        raise CliError(f"no database at {path}: pending migrations: {', '.join(all_revisions())}")
    asyncio.run(_migrate(settings, args.check))


async def _migrate(settings: Settings, check: bool) -> None:
    db = open_database(settings)
    try:
        pending = await pending_revisions(db)
        if check:
            if pending:
                raise CliError(
                    f"the database at {where(settings)} is not at head: "
                    f"pending migrations: {', '.join(pending)}"
                )
            print(f"the database is at head ({head()})")
            return
        if not pending:
            print(f"the database is already at head ({head()})")
            return
        await db.migrate()
        print(f"applied {', '.join(pending)}; the database is at head ({head()})")
    finally:
        await db.dispose()
