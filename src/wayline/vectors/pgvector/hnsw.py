"""The HNSW indexes over the chunk table, one per embedding dimension.

The `embedding` column has no fixed dimension (it follows the configured embedder), and HNSW
indexes only `vector(n)`. So the index is one partial expression index per dimension,
`((embedding::vector(n))) WHERE vector_dims(embedding) = n` (`hnsw_index_sql`), which a query
uses by ordering on the same expression under the same predicate; chunks of another dimension
(an old embedder's, before re-indexing) are simply outside it. Migration 0011 creates it for the
bundled model's 384 and every dimension already stored; a dimension seen later gets its index
built concurrently in the background on first search (`Indexes.ready`), and is searched exactly
until then.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

log = logging.getLogger("wayline.vectors")

BUILD_LOCK = 0x57A7_0000  # + the dimension: the advisory lock of one HNSW index build
HNSW_MAX_DIMENSIONS = 2000  # pgvector's limit for an HNSW index on `vector`
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 64  # pgvector's defaults


def hnsw_index_name(dimensions: int) -> str:
    return f"ix_chunk_embedding_hnsw_{dimensions}"


def hnsw_index_sql(dimensions: int, concurrently: bool = True) -> str:
    """The HNSW index over the chunks of one embedding dimension."""
    return (
        f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS "
        f"{hnsw_index_name(dimensions)} ON chunk USING hnsw "
        f"((embedding::vector({dimensions})) vector_cosine_ops) "
        f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
        f"WHERE vector_dims(embedding) = {dimensions}"
    )


async def indexed_dimensions(session: Any) -> set[int]:
    """Dimensions whose HNSW index exists and is valid (a failed concurrent build leaves an
    invalid one behind, which the planner ignores)."""
    rows = (
        await session.execute(
            text(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = 'chunk'::regclass AND i.indisvalid "
                "AND c.relname LIKE 'ix_chunk_embedding_hnsw_%'"
            )
        )
    ).all()
    return {int(r.relname.rsplit("_", 1)[1]) for r in rows}


class Indexes:
    """Which dimensions have a valid index (read once per process), and the builds this
    process runs for the others."""

    def __init__(self) -> None:
        self._valid: set[int] | None = None
        self.building: dict[int, asyncio.Task[None]] = {}

    async def ready(self, session: AsyncSession, dimensions: int) -> bool:
        """Whether `dimensions` has a valid index; if not, its build starts in the background."""
        if self._valid is None:
            self._valid = await indexed_dimensions(session)
        if dimensions in self._valid:
            return True
        if dimensions <= HNSW_MAX_DIMENSIONS and dimensions not in self.building:
            bind = session.bind
            if isinstance(bind, AsyncEngine):
                self.building[dimensions] = asyncio.create_task(
                    self._build(bind, dimensions), name=f"hnsw-index-{dimensions}"
                )
        return False

    async def _build(self, engine: AsyncEngine, dimensions: int) -> None:
        """Build the index of a dimension without a valid one (first seen at run time, or left
        invalid by an interrupted concurrent build), without blocking writes (CONCURRENTLY,
        outside a transaction); searches stay exact until it is valid. One process builds at
        a time (an advisory lock), so an invalid index found under the lock is a dead build's
        and is dropped first: `CREATE INDEX … IF NOT EXISTS` would keep it forever."""
        name = hnsw_index_name(dimensions)
        try:
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                lock = {"key": BUILD_LOCK + dimensions}
                if not (
                    await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), lock)
                ).scalar():
                    return  # another process is building it
                try:
                    if await _being_built(conn, name):
                        return  # by a process without the lock (a migration)
                    if dimensions not in await indexed_dimensions(conn):
                        log.info("building the HNSW index for %d-dimension embeddings", dimensions)
                        await conn.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {name}"))
                        await conn.execute(text(hnsw_index_sql(dimensions)))
                    self._valid = await indexed_dimensions(conn)
                finally:
                    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), lock)
        except Exception:
            log.exception("could not build the HNSW index for %d dimensions", dimensions)
        finally:
            self.building.pop(dimensions, None)


async def _being_built(conn: Any, name: str) -> bool:
    found = await conn.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p "
            "JOIN pg_class c ON c.oid = p.index_relid WHERE c.relname = :name)"
        ),
        {"name": name},
    )
    return bool(found.scalar())
