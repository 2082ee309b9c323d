"""The SQL database: engine construction, sessions and migrations.

SQLite is the embedded default. The stdlib `sqlite3` on many Pythons cannot load
extensions, so SQLite connections are opened with `pysqlite3` (a bundled, current
SQLite) and get `sqlite-vec` loaded; aiosqlite wraps that connection for the async
engine. PostgreSQL goes through asyncpg. Schema changes are Alembic migrations
shipped inside the package and applied at start-up (under an advisory lock on
PostgreSQL, a lock file beside the database on SQLite, so processes starting together
migrate once).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from sqlalchemy import MetaData, event, inspect, text
from sqlalchemy.engine import Connection, CursorResult, Result
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import AsyncAdaptedQueuePool

from wayline.core.settings import Settings

log = logging.getLogger("wayline.db")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# A session that will write starts its transaction with this execution option (see
# `begin_write`); on SQLite that transaction opens with BEGIN IMMEDIATE.
WRITE_OPTION = "wayline_write"


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE, DELETE or INSERT touched (a `CursorResult`, typed as a plain `Result` by
    `AsyncSession.execute`)."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)


WRITE_TURNS = "wayline_write_turns"  # session.info key of the process's SQLite writer queue
TURN_WAIT = 60.0


def sqlite_module() -> ModuleType:
    try:  # imported by name: pysqlite3 ships no types, and a plain import would make this Any
        return importlib.import_module("pysqlite3.dbapi2")
    except ImportError:  # pragma: no cover - platforms without the binary wheel
        import sqlite3

        return sqlite3


def _sqlite_dbapi() -> Any:
    """SQLAlchemy's aiosqlite adapter, told that the driver underneath is `pysqlite3`.

    The adapter takes its exception classes from the stdlib `sqlite3` by default;
    `pysqlite3`'s are not subclasses of those, so SQLAlchemy would let them through
    unwrapped and no `except sqlalchemy.exc.IntegrityError` would ever fire on SQLite."""
    import aiosqlite
    from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

    sqlite = sqlite_module()
    dbapi = AsyncAdapt_aiosqlite_dbapi(aiosqlite, sqlite)
    for name in (
        "DatabaseError",
        "Error",
        "IntegrityError",
        "NotSupportedError",
        "OperationalError",
        "ProgrammingError",
        "InterfaceError",
    ):
        setattr(dbapi, name, getattr(sqlite, name))
    return dbapi


@functools.cache
def _sqlite_vec_path() -> str:
    """sqlite-vec's loadable extension, found without importing the package: its `__init__`
    imports numpy (~0.1 s of every start, before anything needs numpy)."""
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or spec.origin is None:
        raise RuntimeError("the sqlite-vec package is not installed")
    return str(Path(spec.origin).parent / "vec0")


def _sqlite_connect(path: str) -> Any:
    """Open a pysqlite3 connection with sqlite-vec loaded (the stdlib module may refuse
    extensions)."""
    conn = sqlite_module().connect(path, check_same_thread=False, isolation_level=None)
    conn.enable_load_extension(True)
    conn.load_extension(_sqlite_vec_path())
    conn.enable_load_extension(False)
    return conn


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if url.startswith("sqlite"):
        import aiosqlite

        path = url.split("///", 1)[1]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)

        async def creator() -> aiosqlite.Connection:
            conn = aiosqlite.Connection(lambda: _sqlite_connect(path), iter_chunk_size=64)
            return await conn

        engine = create_async_engine(
            f"sqlite+aiosqlite:///{path}",
            async_creator=creator,
            poolclass=AsyncAdaptedQueuePool,
            pool_size=8,
            max_overflow=8,
            module=_sqlite_dbapi(),
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

        # pysqlite's own transaction handling skips BEGIN for SELECTs; emit it ourselves so
        # SQLAlchemy's transaction boundaries are real (see SQLAlchemy's pysqlite notes).
        # A transaction that will write takes the write lock up front (IMMEDIATE): a deferred
        # one that read first cannot be upgraded once another connection has committed, and
        # SQLite refuses it at once ("database is locked") instead of waiting busy_timeout.
        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            write = conn.get_execution_options().get(WRITE_OPTION)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_async_engine(
        url,
        pool_size=settings.DATABASE_POOL_SIZE,
        max_overflow=settings.DATABASE_POOL_MAX_OVERFLOW,
        pool_pre_ping=True,
    )


class Database:
    """The engine plus a session factory; built in the lifespan, handed down through `core`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        # SQLite has one writer at a time, and its busy handler is not a queue: under load a
        # writer can lose every retry for busy_timeout and fail. Writers of this process take
        # turns here first (asyncio.Lock is FIFO); busy_timeout is left to other processes.
        info = {WRITE_TURNS: asyncio.Lock()} if self.engine.dialect.name == "sqlite" else {}
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, info=info)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session whose one transaction is a write: committed on success, rolled back on
        error."""
        async with self.sessionmaker() as session:
            await begin_write(session)
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            log.warning("database ping failed", exc_info=True)
            return False

    async def migrate(self) -> None:
        async with self.engine.connect() as conn:
            if await conn.run_sync(_at_newest_revision):
                return  # the usual restart: no need to load Alembic (~0.3 s of every start)
            await conn.rollback()
            if self.dialect == "sqlite":
                # Several processes on one file (`serve --workers N`, a `wayline worker`): one
                # migrates, the others then find the schema current. Without the lock each read
                # the old revision and the second failed on "table … already exists".
                async with _file_lock(self.engine.url.database):
                    await conn.run_sync(_upgrade_to_head)
                    await conn.commit()
                return
            if self.dialect == "postgresql":
                # Polled, and committed: no transaction (no snapshot) is held while waiting, as
                # a CREATE INDEX CONCURRENTLY in the holder's migration waits for every older
                # snapshot and would deadlock with a blocked pg_advisory_lock(). Alembic then
                # owns its transaction (which `autocommit_block` needs).
                while not (
                    await conn.execute(text("SELECT pg_try_advisory_lock(727274)"))
                ).scalar():
                    await conn.rollback()
                    await asyncio.sleep(0.1)
                await conn.commit()
            try:
                await conn.run_sync(_upgrade_to_head)
                await conn.commit()
            finally:
                if self.dialect == "postgresql":
                    await conn.execute(text("SELECT pg_advisory_unlock(727274)"))
                    await conn.commit()

    async def dispose(self) -> None:
        await self.engine.dispose()


async def begin_write(session: AsyncSession) -> None:
    """Start `session`'s next transaction as a write transaction; call it before the first read
    of a unit of work that writes, so its checks and its writes see one state.

    On SQLite this is BEGIN IMMEDIATE, after this process's earlier writers (a FIFO turn held
    until the transaction ends): writers queue instead of failing when a read transaction
    cannot be upgraded. A transaction already open (reads made earlier in the request) is
    committed first. On PostgreSQL it changes nothing."""
    if session.in_transaction():
        await session.commit()
    turns: asyncio.Lock | None = session.info.get(WRITE_TURNS)
    release = None
    if turns is not None and await _take_turn(turns):
        release = _release_at_transaction_end(session, turns)
    try:
        await session.connection(execution_options={WRITE_OPTION: True})
    except BaseException:
        if release is not None:
            release(session, None)  # no transaction began: give the turn back now
        raise


async def _take_turn(turns: asyncio.Lock) -> bool:
    """Wait for this process's write turn; False after TURN_WAIT (then SQLite's own busy
    handling decides), so a unit of work that wrongly nests two writes stalls, never hangs."""
    try:
        await asyncio.wait_for(turns.acquire(), TURN_WAIT)
    except TimeoutError:
        log.warning("waited %.0f s for a write turn; going ahead without one", TURN_WAIT)
        return False
    return True


def _release_at_transaction_end(
    session: AsyncSession, turns: asyncio.Lock
) -> Callable[[Any, Any], None]:
    held = True

    def release(_: Any, transaction: Any) -> None:
        nonlocal held
        if held and (
            transaction is None or transaction.parent is None
        ):  # the root: commit, rollback, close
            held = False
            turns.release()

    event.listen(session.sync_session, "after_transaction_end", release)
    return release


MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def known_revisions() -> set[str]:
    """This release's migrations, by the file naming convention (`NNNN_name.py` with revision id
    `NNNN_name`; a test holds the convention to Alembic's own view of the head)."""
    return {p.stem for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")}


def newest_revision() -> str:
    return max(known_revisions())


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer release: this one must not read or write it."""


def _at_newest_revision(connection: Connection) -> bool:
    """True when the schema is this release's; raises `SchemaTooNew` for a later one (a replica
    left on an older release during a rolling upgrade), which would otherwise fail in Alembic
    ("Can't locate revision") or, worse, write rows the newer schema does not expect."""
    if not inspect(connection).has_table("alembic_version"):
        return False
    current = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    newest = newest_revision()
    unknown = [rev for rev in current if rev not in known_revisions()]
    if unknown:
        raise SchemaTooNew(
            f"the database schema is at revision {unknown[0]}, which this release of Wayline "
            f"does not know (its newest is {newest}): it was upgraded by a newer release. "
            "Run that release here too; this one refuses to serve rather than misread the data"
        )
    return current == [newest]


@asynccontextmanager
async def _file_lock(database: str | None) -> AsyncIterator[None]:
    """An exclusive lock on `<database>.migrate-lock`, waited for in a thread (nothing to lock
    for an in-memory database)."""
    import fcntl  # POSIX, as the server is

    if not database or database == ":memory:":
        yield
        return
    handle = await asyncio.to_thread(open, f"{database}.migrate-lock", "a+b")
    try:
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # (releases the lock)


def _upgrade_to_head(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def wait_for(db: Database, attempts: int = 30) -> None:
    """Wait for the database at start-up (a replica may start before PostgreSQL)."""
    for attempt in range(attempts):
        if await db.ping():
            return
        await asyncio.sleep(min(0.2 * (attempt + 1), 2.0))
    raise RuntimeError(f"database at {db.settings.database_url.split('@')[-1]} is unreachable")
