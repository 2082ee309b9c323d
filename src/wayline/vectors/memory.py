"""`MemoryIndex`: any database `VectorIndex`, searched through an in-process `Mirror`.

Writes go to the database index as before, and note the changed files in the change log
(`changes.py`) within the same transaction. Before each search the mirror catches up: one
read of the log's version (~0.1 ms) when nothing changed, else the changed files' chunks.
Texts and metadata of results are always read from the database (`fetch`), so a chunk deleted
by a cascade the log did not see (a user's files going with the user) is never returned;
its vectors stay in memory until the next full load.

The copy is loaded in full at start-up in the background (`warm`) and when it falls behind the
pruned log; until it is ready, and for indexes larger than `max_chunks` (0: never; found at a
full load, and kept until a restart), searches run in the database as before. A process holds
~1.6 KB per 384-dimension chunk plus its terms.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wayline.vectors import changes
from wayline.vectors.base import (
    Candidate,
    ChunkRow,
    ChunkTexts,
    NewChunk,
    ScopeScores,
    VectorIndex,
)

if TYPE_CHECKING:  # numpy and the stemmer load with the first copy, not at start-up
    from wayline.vectors.mirror import Mirror

log = logging.getLogger("wayline.vectors")
RELOAD_DEAD_SHARE = 0.3  # reload in full once this share of the copy's rows is dead
RELOAD_CHANGED_FILES = 20_000  # more changed files than this: a full load is cheaper


class MemoryIndex:
    def __init__(self, inner: VectorIndex, max_chunks: int) -> None:
        self.inner = inner
        self.engine = getattr(inner, "engine", "unknown")
        self.max_chunks = max_chunks
        self._mirror: Mirror | None = None
        self._version = -1
        self._lock = asyncio.Lock()
        self._too_big = False

    # --- writes: the database index, plus the change log -----------------------------------
    async def add_chunks(
        self, session: AsyncSession, file_id: str, chunks: Sequence[NewChunk]
    ) -> None:
        await self.inner.add_chunks(session, file_id, chunks)
        changes.record(session, file_id)

    async def delete_file(self, session: AsyncSession, file_id: str) -> None:
        await self.inner.delete_file(session, file_id)
        changes.record(session, file_id)

    async def delete_all(self, session: AsyncSession) -> None:
        await self.inner.delete_all(session)
        changes.record(session, changes.EVERY_FILE)

    async def copy_file(
        self, session: AsyncSession, src_file_id: str, dst_file_id: str, meta_update: dict[str, Any]
    ) -> int:
        copied = await self.inner.copy_file(session, src_file_id, dst_file_id, meta_update)
        changes.record(session, dst_file_id)
        return copied

    async def count(self, session: AsyncSession, file_id: str) -> int:
        return await self.inner.count(session, file_id)

    async def fetch(self, session: AsyncSession, chunk_ids: Sequence[int]) -> ChunkTexts:
        return await self.inner.fetch(session, chunk_ids)

    def scan(
        self, session: AsyncSession, file_ids: Sequence[str] | None = None
    ) -> AsyncIterator[list[ChunkRow]]:
        return self.inner.scan(session, file_ids)

    # --- searches: the mirror when it is ready ----------------------------------------------
    async def search(
        self, session: AsyncSession, file_ids: Sequence[str], embedding: Sequence[float], k: int
    ) -> list[Candidate]:
        mirror = await self._synced(session)
        if mirror is None or mirror.dimensions != len(embedding):
            return await self.inner.search(session, file_ids, embedding, k)
        return mirror.search(mirror.scope(file_ids), embedding, k)

    async def search_text(
        self, session: AsyncSession, file_ids: Sequence[str], query: str, k: int
    ) -> list[Candidate]:
        mirror = await self._synced(session)
        if mirror is None:
            return await self.inner.search_text(session, file_ids, query, k)
        return mirror.search_text(mirror.scope(file_ids), query, k)

    async def score(
        self,
        session: AsyncSession,
        file_ids: Sequence[str],
        embedding: Sequence[float] | None,
        query: str,
    ) -> ScopeScores | None:
        """Both scores of every chunk of `file_ids` (`ScopeScores`); None while the mirror is
        not ready (the caller fuses candidate lists instead)."""
        mirror = await self._synced(session)
        if mirror is None or (embedding is not None and mirror.dimensions != len(embedding)):
            return None
        return mirror.score(mirror.scope(file_ids), embedding, query)

    # --- keeping up --------------------------------------------------------------------------
    async def warm(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Load the copy (at start-up, in the background: searches use the database meanwhile)."""
        try:
            async with sessionmaker() as session:
                await self._synced(session, wait=True)
        except Exception:
            log.exception("could not load the in-memory index; searches run in the database")

    async def _synced(self, session: AsyncSession, wait: bool = False) -> Mirror | None:
        if self.max_chunks <= 0 or self._too_big:
            return None
        if self._lock.locked() and self._mirror is None and not wait:
            return None  # being loaded: the database answers meanwhile
        version, pruned = await changes.current(session)
        if version == self._version and self._mirror is not None:
            return self._mirror
        async with self._lock:
            if self._mirror is None or self._version < pruned:
                await self._load_all(session, version)
            elif version > self._version:
                await self._catch_up(session, version)
            return self._mirror

    async def _load_all(self, session: AsyncSession, version: int) -> None:
        total = int((await session.execute(text("SELECT count(*) FROM chunk"))).scalar_one())
        if total > self.max_chunks:
            log.warning(
                "%d chunks exceed VECTOR_MEMORY_MAX_CHUNKS=%d: searches run in the database",
                total,
                self.max_chunks,
            )
            self._too_big, self._mirror = True, None
            return
        self._mirror = await self._load_everything(session)
        self._version = version
        log.info("in-memory index loaded: %d chunks", self._mirror.live_rows)

    async def _catch_up(self, session: AsyncSession, version: int) -> None:
        changed = await changes.changed_since(session, self._version)
        mirror = self._mirror
        if (
            mirror is None
            or changes.EVERY_FILE in changed
            or len(changed) > RELOAD_CHANGED_FILES
            or mirror.dead_share > RELOAD_DEAD_SHARE
        ):
            await self._load_all(session, version)
            return
        # Read first, then change the copy without awaiting: a search running meanwhile sees
        # the copy before or after, never without the files being reloaded.
        rows = [row async for batch in self.inner.scan(session, sorted(changed)) for row in batch]
        for file_id in changed:
            mirror.remove(file_id)
        start = 0
        for end in range(1, len(rows) + 1):
            if end == len(rows) or rows[end].file_id != rows[start].file_id:
                mirror = _load_file(mirror, rows[start:end])
                start = end
        self._mirror, self._version = mirror, version

    async def _load_everything(self, session: AsyncSession) -> Mirror:
        """A new copy of every chunk, built aside (searches use the old one, or SQL, meanwhile);
        file by file, as a file's rows may span two batches."""
        mirror: Mirror | None = None
        pending: list[ChunkRow] = []
        async for batch in self.inner.scan(session, None):
            for row in batch:
                if pending and pending[-1].file_id != row.file_id:
                    mirror = _load_file(mirror, pending)
                    pending = []
                pending.append(row)
            await asyncio.sleep(0)  # a long load lets requests in between batches
        if pending:
            mirror = _load_file(mirror, pending)
        if mirror is None:
            from wayline.vectors.mirror import Mirror

            mirror = Mirror(0)
        return mirror


def _load_file(mirror: Mirror | None, rows: list[ChunkRow]) -> Mirror:
    from wayline.vectors.mirror import Mirror

    if mirror is None or (mirror.rows == 0 and mirror.dimensions != len(rows[0].vector)):
        mirror = Mirror(len(rows[0].vector))
    mirror.load(rows[0].file_id, rows)
    return mirror
