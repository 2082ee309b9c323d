"""PostgreSQL: chunks with their pgvector embeddings and a generated `tsvector` under a GIN
index, in the main database.

Vector search takes one of two paths, chosen per query by the scope's size:

- exact, for scopes of up to `exact_max_chunks` chunks: the scope's rows are read through the
  `file_id` index and every distance is computed, which is both exact and fast there;
- HNSW (`hnsw.py`), beyond: an approximate index scan (`vector_cosine_ops`) with pgvector's
  iterative scan (`hnsw.iterative_scan = relaxed_order`, pgvector >= 0.8), which keeps walking
  the graph until `k` rows of the scope have passed the `file_id` filter, so a collection filter
  never cuts the answer short. If the walk still ends with fewer than `k` rows (a scope spread
  too thin over a huge table), the exact path answers instead.

Full text is BM25 over a bounded set of candidates (`fulltext.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core.db import affected
from wayline.vectors.base import (
    Candidate,
    ChunkRow,
    ChunkTexts,
    NewChunk,
    dump_meta,
    fetch_texts,
    scan_rows,
)
from wayline.vectors.pgvector.fulltext import CANDIDATE_BUDGET, PRUNE_FROM, FullText, TextStats
from wayline.vectors.pgvector.hnsw import Indexes
from wayline.vectors.pgvector.sql import SCOPE, SCOPE_FILTER, as_vector, register_codec

# Measured in bench/pgvector_scale.py (384 dimensions, 2 busy cores): exact search beats the
# index up to ~10k chunks in scope (a 10k-chunk scope: ~45 ms either way).
EXACT_MAX_CHUNKS = 10_000
# The HNSW candidate list: recall@10 >= 0.95 against exact at 1M chunks (bench/pgvector_scale.py,
# its clustered synthetic vectors, a 95% scope): dense 0.918 at 300, 0.962 at 800 (28 ms p50);
# hybrid 0.930 at 300, 0.965 at 800 (40 ms p50).
EF_SEARCH = 800
# ...for a scope of at least this share of the files: a filtered walk of the graph loses recall
# when most of what it meets is outside the scope (1M chunks, ef_search 300: a 20% scope 0.95
# in 16 ms, a 5% scope 0.58; exact search takes 63 ms there). Smaller shares are searched
# exactly: always right, slower for a mid-sized scope of a very large table.
MIN_SHARE = 0.2
SURELY_LARGE = 4  # a scope estimated at this many times EXACT_MAX_CHUNKS is not counted


class PgVectorIndex:
    engine = "pgvector"

    def __init__(
        self,
        exact_max_chunks: int = EXACT_MAX_CHUNKS,
        ef_search: int = EF_SEARCH,
        min_share: float = MIN_SHARE,
        candidate_budget: int = CANDIDATE_BUDGET,
        prune_from: int = PRUNE_FROM,
    ) -> None:
        self.exact_max_chunks = exact_max_chunks
        self.min_share = min_share
        self.ef_search = ef_search
        self.text_stats = TextStats(candidate_budget, prune_from)
        self.full_text = FullText(self.text_stats)
        self.hnsw = Indexes()

    async def add_chunks(
        self, session: AsyncSession, file_id: str, chunks: Sequence[NewChunk]
    ) -> None:
        if not chunks:
            return
        await register_codec(session)
        await session.execute(
            text(
                "INSERT INTO chunk (file_id, idx, text, meta, embedding) "
                "VALUES (:f, :i, :t, CAST(:m AS json), CAST(:e AS vector))"
            ),
            [
                {
                    "f": file_id,
                    "i": c.idx,
                    "t": c.text.replace("\x00", ""),
                    "m": dump_meta(c.meta),
                    "e": as_vector(c.embedding),
                }
                for c in chunks
            ],
        )

    async def delete_file(self, session: AsyncSession, file_id: str) -> None:
        await session.execute(text("DELETE FROM chunk WHERE file_id = :f"), {"f": file_id})

    async def delete_all(self, session: AsyncSession) -> None:
        await session.execute(text("DELETE FROM chunk"))

    async def count(self, session: AsyncSession, file_id: str) -> int:
        return int(
            (
                await session.execute(
                    text("SELECT count(*) FROM chunk WHERE file_id = :f"), {"f": file_id}
                )
            ).scalar_one()
        )

    async def copy_file(
        self, session: AsyncSession, src_file_id: str, dst_file_id: str, meta_update: dict[str, Any]
    ) -> int:
        result = await session.execute(
            text(
                "INSERT INTO chunk (file_id, idx, text, meta, embedding) "
                "SELECT :dst, idx, text, "
                "CAST((meta::jsonb || CAST(:patch AS jsonb)) AS json), embedding "
                "FROM chunk WHERE file_id = :src ORDER BY idx"
            ),
            {"dst": dst_file_id, "src": src_file_id, "patch": dump_meta(meta_update)},
        )
        # An INSERT gives a CursorResult; `AsyncSession.execute` is typed as the base `Result`.
        return affected(result)

    # --- vector search -----------------------------------------------------------------------
    async def search(
        self, session: AsyncSession, file_ids: Sequence[str], embedding: Sequence[float], k: int
    ) -> list[Candidate]:
        if not file_ids or k <= 0:
            return []
        await register_codec(session)
        query, ids = as_vector(embedding), list(file_ids)
        dimensions = len(query)
        await self.text_stats.fresh(session)
        share = len(ids) / max(1.0, self.text_stats.files)
        if (
            share >= self.min_share
            and await self._scope_exceeds(session, ids, share, max(self.exact_max_chunks, k))
            and await self.hnsw.ready(session, dimensions)
        ):
            found = await self._search_hnsw(session, ids, query, k)
            if len(found) >= k:
                return found
        return await self._search_exact(session, ids, query, k)

    async def _search_exact(
        self, session: AsyncSession, ids: list[str], query: Any, k: int
    ) -> list[Candidate]:
        # `embedding <=> q`, not the indexed expression: the planner cannot take the HNSW index.
        rows = (
            await session.execute(
                text(
                    "SELECT id, file_id, embedding <=> CAST(:q AS vector) AS d FROM chunk "
                    f"WHERE {SCOPE} AND vector_dims(embedding) = :n "
                    "ORDER BY d, id LIMIT :k"
                ),
                {"q": query, "ids": ids, "n": len(query), "k": k},
            )
        ).all()
        return [Candidate(r.id, r.file_id, 1.0 - float(r.d)) for r in rows]

    async def _search_hnsw(
        self, session: AsyncSession, ids: list[str], query: Any, k: int
    ) -> list[Candidate]:
        n = len(query)
        # Transaction-local: the rest of the request's transaction is unaffected.
        await session.execute(
            text(
                "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                "set_config('hnsw.ef_search', :ef, true)"
            ),
            {"ef": str(min(1000, max(self.ef_search, k)))},
        )
        # relaxed_order may return rows slightly out of order: sorted again outside.
        rows = (
            await session.execute(
                text(
                    "WITH hits AS MATERIALIZED ("
                    f"SELECT id, file_id, embedding::vector({n}) <=> CAST(:q AS vector({n})) AS d "
                    f"FROM chunk WHERE vector_dims(embedding) = {n} AND {SCOPE_FILTER} "
                    "ORDER BY d LIMIT :k) "
                    "SELECT id, file_id, d FROM hits ORDER BY d, id"
                ),
                {"q": query, "ids": ids, "k": k, "unscoped": False},
            )
        ).all()
        return [Candidate(r.id, r.file_id, 1.0 - float(r.d)) for r in rows]

    async def _scope_exceeds(
        self, session: AsyncSession, ids: list[str], share: float, limit: int
    ) -> bool:
        """More than `limit` chunks in the scope? When its share of the files would make it
        several times `limit` at the table's mean chunks per file, yes (counting 10k index
        entries costs ~6 ms, a third of an HNSW search; a scope of tiny files misjudged so
        falls back to exact search when the walk finds too few). Otherwise counted through the
        file_id index, stopping at limit + 1."""
        if share * self.text_stats.chunks > SURELY_LARGE * limit:
            return True
        found = (
            await session.execute(
                text(f"SELECT count(*) FROM (SELECT 1 FROM chunk WHERE {SCOPE} LIMIT :n) AS scope"),
                {"ids": ids, "n": limit + 1},
            )
        ).scalar_one()
        return int(found) > limit

    # --- full text ---------------------------------------------------------------------------
    async def search_text(
        self, session: AsyncSession, file_ids: Sequence[str], query: str, k: int
    ) -> list[Candidate]:
        return await self.full_text.search(session, file_ids, query, k)

    async def fetch(self, session: AsyncSession, chunk_ids: Sequence[int]) -> ChunkTexts:
        return await fetch_texts(session, chunk_ids)

    def scan(
        self, session: AsyncSession, file_ids: Sequence[str] | None = None
    ) -> AsyncIterator[list[ChunkRow]]:
        import numpy as np

        return scan_rows(
            session,
            "SELECT id, file_id, text, CAST(embedding AS text) AS e FROM chunk",
            file_ids,
            lambda literal: np.array(literal[1:-1].split(","), dtype=np.float32),
        )
