"""The SQL database: engine construction, sessions and migrations.

SQLite is the embedded default. The stdlib `sqlite3` on many Pythons cannot load
extensions, so SQLite connections are opened with `pysqlite3` (a bundled, current
SQLite) and get `sqlite-vec` loaded; aiosqlite wraps that connection for the async
engine. PostgreSQL goes through asyncpg. Schema changes are Alembic migrations
shipped inside the package and applied at start-up (under an advisory lock on
PostgreSQL, so replicas starting together migrate once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event, text
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

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


def _sqlite_connect(path: str) -> Any:
    """Open a pysqlite3 connection with sqlite-vec loaded (the stdlib module may refuse extensions)."""
    try:
        import pysqlite3.dbapi2 as sqlite  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - platforms without the binary wheel
        import sqlite3 as sqlite  # type: ignore[no-redef]
    import sqlite_vec

    conn = sqlite.connect(path, check_same_thread=False, isolation_level=None)
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
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
            f"sqlite+aiosqlite:///{path}", async_creator=creator,
            poolclass=AsyncAdaptedQueuePool, pool_size=8, max_overflow=8,
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
        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

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
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - readiness reports any failure as "not ready"
            log.warning("database ping failed", exc_info=True)
            return False

    async def migrate(self) -> None:
        async with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                await conn.execute(text("SELECT pg_advisory_lock(727274)"))
            try:
                await conn.run_sync(_upgrade_to_head)
                await conn.commit()
            finally:
                if self.dialect == "postgresql":
                    await conn.execute(text("SELECT pg_advisory_unlock(727274)"))
                    await conn.commit()

    async def dispose(self) -> None:
        await self.engine.dispose()


def _upgrade_to_head(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    here = Path(__file__).resolve().parent.parent / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(here))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def wait_for(db: Database, attempts: int = 30) -> None:
    """Wait for the database at start-up (a replica may start before PostgreSQL)."""
    for attempt in range(attempts):
        if await db.ping():
            return
        await asyncio.sleep(min(0.2 * (attempt + 1), 2.0))
    raise RuntimeError(f"database at {db.settings.database_url.split('@')[-1]} is unreachable")
