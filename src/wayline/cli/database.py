"""The database as the commands see it: where the SQLite file is, which migrations are pending,
a `Database` opened only when its schema is current, and a bus that tells running servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wayline.cli.common import CliError, note

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncSession

    from wayline.auth.service import AuthService
    from wayline.core.bus import Bus, Handler
    from wayline.core.db import Database
    from wayline.core.settings import Settings
    from wayline.users.service import UserService


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite database file (None on PostgreSQL, or for an in-memory database)."""
    url = settings.database_url
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1]
    return None if path == ":memory:" else Path(path)


def where(settings: Settings) -> str:
    """The database, named for a message without its credentials."""
    path = sqlite_path(settings)
    if path is not None:
        return str(path)
    return settings.database_url.split("@")[-1]


def _migrations() -> Any:
    from alembic.script import ScriptDirectory

    import wayline.migrations

    return ScriptDirectory(str(Path(wayline.migrations.__file__).resolve().parent))


def all_revisions() -> list[str]:
    """Every migration this wayline ships, oldest first."""
    return [rev.revision for rev in reversed(list(_migrations().walk_revisions()))]


def head() -> str:
    return str(_migrations().get_heads()[0])


def _current(connection: Connection) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    return tuple(MigrationContext.configure(connection).get_current_heads())


async def current_revisions(db: Database) -> tuple[str, ...]:
    async with db.engine.connect() as conn:
        return await conn.run_sync(_current)


async def pending_revisions(db: Database) -> list[str]:
    """The migrations not yet applied, oldest first; refused when the database is at a revision
    this wayline does not know (a newer version migrated it), or cannot be reached."""
    from sqlalchemy.exc import DBAPIError

    script = _migrations()
    try:
        current = await current_revisions(db)
    except (OSError, DBAPIError) as exc:
        error = getattr(exc, "orig", None) or exc
        text = " ".join(str(error).split())[:300]
        raise CliError(
            f"cannot open the database at {where(db.settings)}: {type(error).__name__}: {text}"
        ) from None
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = [rev for rev in current if rev not in known]
    if unknown:
        raise CliError(
            f"the database is at revision {', '.join(unknown)}, which this wayline does not "
            "know: it was migrated by a newer version"
        )
    applied: set[str] = set()
    for rev in current:
        applied.update(r.revision for r in script.iterate_revisions(rev, "base"))
    return [rev for rev in all_revisions() if rev not in applied]


def open_database(settings: Settings) -> Database:
    from wayline.core.db import Database

    try:
        return Database(settings)  # creates the SQLite file's folder
    except OSError as exc:
        raise CliError(f"cannot open the database at {where(settings)}: {exc}") from None


@asynccontextmanager
async def current_database(settings: Settings) -> AsyncIterator[Database]:
    """The database, once its schema is at head; a missing SQLite file is not created."""
    path = sqlite_path(settings)
    if path is not None and not path.exists():
        raise CliError(
            f"no database at {path} (DATA_DIR={str(settings.DATA_DIR)!r}): "
            "run `wayline migrate` to create it, or check DATA_DIR / DATABASE_URL"
        )
    db = open_database(settings)
    try:
        pending = await pending_revisions(db)
        if pending:
            raise CliError(
                f"the database is not at the latest schema (pending: {', '.join(pending)}): "
                "run `wayline migrate` first"
            )
        yield db
    finally:
        await db.dispose()


class Notifier:
    """The `Bus` the services publish on, for a command: with REDIS_URL, running servers hear it
    at once (their credential caches drop); without, they cannot, and the command says so."""

    def __init__(self, settings: Settings) -> None:
        from wayline.core.bus import create_bus

        self._settings = settings
        self._bus: Bus = create_bus(settings.REDIS_URL, settings.REDIS_KEY_PREFIX)
        self.shared = self._bus.shared
        self.published = False
        self.failure: str | None = None

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._bus.subscribe(topic, handler)

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.published = True
        try:
            await self._bus.publish(topic, message)
        except Exception as exc:  # the change is committed; only the news did not travel
            self.failure = f"{type(exc).__name__}: {exc}"

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        with suppress(Exception):  # a client that never connected
            await self._bus.close()

    def report(self) -> None:
        """After a change to credentials: whether running servers already know."""
        if not self.published:
            return
        ttl = f"AUTH_CACHE_TTL={self._settings.AUTH_CACHE_TTL:g}s"
        if self.failure is not None:
            note(
                f"warning: running servers could not be told through REDIS_URL "
                f"({self.failure}); they notice within {ttl}"
            )
        elif not self.shared:
            note(f"note: without REDIS_URL a running server notices within {ttl}")


@dataclass
class Work:
    """One command's session on the current database, and the bus its services publish on."""

    settings: Settings
    db: Database
    session: AsyncSession
    bus: Notifier

    def auth_service(self) -> AuthService:
        from wayline.auth.credentials import Authenticator
        from wayline.auth.service import AuthService

        # The authenticator is only the messenger here: revoking a key tells the servers.
        authenticator = Authenticator(self.settings, self.db, self.bus)
        return AuthService(self.session, self.settings, authenticator)

    def user_service(self) -> UserService:
        from wayline.users.service import UserService

        return UserService(self.session, self.bus)


@asynccontextmanager
async def unit_of_work(settings: Settings) -> AsyncIterator[Work]:
    async with current_database(settings) as db:
        bus = Notifier(settings)
        try:
            async with db.sessionmaker() as session:
                yield Work(settings, db, session, bus)
        finally:
            await bus.close()
