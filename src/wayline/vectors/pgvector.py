"""PostgreSQL: pgvector cosine distance (`<=>`) and a generated `tsvector` under a GIN index.

Vector search takes one of two paths, chosen per query by the scope's size:

- exact, for scopes of up to `exact_max_chunks` chunks: the scope's rows are read through the
  `file_id` index and every distance is computed, which is both exact and fast there;
- HNSW, beyond: an approximate index scan (`vector_cosine_ops`) with pgvector's iterative scan
  (`hnsw.iterative_scan = relaxed_order`, pgvector >= 0.8), which keeps walking the graph until
  `k` rows of the scope have passed the `file_id` filter, so a collection filter never cuts the
  answer short. If the walk still ends with fewer than `k` rows (a scope spread too thin over a
  huge table), the exact path answers instead.

The `embedding` column has no fixed dimension (it follows the configured embedder), and HNSW
indexes only `vector(n)`. So the index is one partial expression index per dimension,
`((embedding::vector(n))) WHERE vector_dims(embedding) = n` (`hnsw_index_sql`), which a query
uses by ordering on the same expression under the same predicate; chunks of another dimension
(an old embedder's, before re-indexing) are simply outside it. Migration 0011 creates it for the
bundled model's 384 and every dimension already stored; a dimension seen later gets its index
built concurrently in the background on first search, and is searched exactly until then.

Full text is ranked by BM25 (k1 1.2, b 0.75, as SQLite FTS5 and the in-memory index), computed in
SQL from each candidate's tsvector (term frequencies from its positions, length in distinct
lexemes) and cached table statistics (`TextStats`); `ts_rank` has no document frequencies and
lost on Cranfield (hybrid nDCG@10 0.374 vs 0.389 now, SQLite 0.390; bench/retrieval_quality.py
with the in-memory copy off). Candidates come through the GIN index. In a large table only
about `CANDIDATE_BUDGET` of them are read: the chunks of the query's rarest terms (the others only
add to their scores), or, when every term is common, the chunks holding all of them; when too
few of those are in the scope, up to as many of the scope's own chunks with any term. A small
scope is matched through its own chunks. Ranking every chunk of a common word cost seconds.

Vectors travel in pgvector's binary format (its asyncpg codec, registered on each connection
before its first vector statement), not as text literals.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from wayline.core.db import affected
from wayline.vectors.base import (
    Candidate,
    ChunkRow,
    ChunkTexts,
    NewChunk,
    dump_meta,
    fetch_texts,
    query_terms,
    scan_rows,
)

log = logging.getLogger("wayline.vectors")

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
BUILD_LOCK = 0x57A7_0000  # + the dimension: the advisory lock of one HNSW index build
HNSW_MAX_DIMENSIONS = 2000  # pgvector's limit for an HNSW index on `vector`
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 64  # pgvector's defaults
# A scope is a list of file ids, bound as one array. Written `= ANY(:ids)`, the planner would
# estimate each element against the column statistics (~10 µs each: 90 ms for 9,500 files);
# as a subquery it plans in no time. SCOPE joins (the file_id index finds small scopes' rows);
# SCOPE_FILTER keeps it a hashed filter (the OR stops the planner making it a join) for the
# HNSW scan, which must walk the graph in distance order and drop rows outside the scope.
SCOPE = "file_id IN (SELECT unnest(CAST(:ids AS text[])))"
SCOPE_FILTER = f"({SCOPE} OR :unscoped)"
# The scope's chunks first, through the file_id index (OFFSET 0 keeps the planner from folding
# the subquery into a GIN scan of the whole table): for full text over a small scope.
SCOPE_ROWS = f"(SELECT id, file_id, tsv FROM chunk WHERE {SCOPE} OFFSET 0) AS chunk"
K1, B = 1.2, 0.75  # BM25 as SQLite FTS5 and the in-memory index rank
TEXT_STATS_TTL = 300.0  # seconds a process keeps chunk counts and term frequencies
SAMPLE_FROM = 200_000  # chunks from which the mean length is sampled, not computed
# In a table of PRUNE_FROM chunks or more, a full-text query reads and ranks at most about
# CANDIDATE_BUDGET chunks (the rarest terms' chunks; below, every chunk with any term). Reading and
# ranking a candidate costs ~7 µs: 2,000 keep the full-text side at 16 ms p50 at a million
# chunks (bench/pgvector_scale.py).
PRUNE_FROM = 50_000
CANDIDATE_BUDGET = 2_000
TERMS_KEPT = 20_000


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


def _vector(embedding: Sequence[float]) -> Any:
    import numpy as np

    return np.asarray(embedding, dtype=np.float32)


_CODEC_READY: weakref.WeakSet[Any] = weakref.WeakSet()  # asyncpg connections with the codec


async def register_codec(session: AsyncSession) -> None:
    """pgvector's binary codec on the session's asyncpg connection, once per connection (after
    the migrations created the extension, so not at connect time)."""
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    if raw is None or raw in _CODEC_READY:
        return
    from pgvector.asyncpg import register_vector

    await register_vector(raw)
    _CODEC_READY.add(raw)


@dataclass(frozen=True)
class TextQuery:
    """How one full-text query is answered: the BM25 weights of its lexemes, and which chunks
    are read and ranked: those that `select` (a tsquery over the terms) matches, at most `cap`
    of them, found through the GIN index or, `scope_first`, among the scope's own chunks."""

    lexemes: list[str]
    idf: list[float]
    select: str
    cap: int | None = None
    scope_first: bool = False
    any_term: str = ""  # every term OR-ed: what a pruned query falls back to when it finds < k

    @property
    def pruned(self) -> bool:
        return self.cap is not None


class TextStats:
    """What BM25 needs beyond a chunk's own tsvector, cached for `TEXT_STATS_TTL` seconds: the
    number of chunks, their mean length (distinct lexemes), ANALYZE's most common lexemes, and
    each query term's lexeme and document frequency (whole table, as FTS5 and the in-memory
    index count them)."""

    def __init__(self, budget: int = CANDIDATE_BUDGET, prune_from: int = PRUNE_FROM) -> None:
        self.budget = budget
        self.prune_from = prune_from
        self.chunks = 0.0
        self.files = 0.0  # every file row (some without chunks): scope shares come out low
        self.average_length = 1.0
        self._fresh_until = 0.0
        self._common: dict[str, float] = {}  # lexeme -> share of the chunks holding it
        self._terms: dict[str, tuple[str | None, float]] = {}  # term -> (lexeme, df)

    async def plan(
        self, session: AsyncSession, terms: list[str], scope_files: int
    ) -> TextQuery | None:
        """The query's plan over a scope of `scope_files` files; None when no term is in any
        chunk."""
        await self.fresh(session)
        missing = [t for t in terms if t not in self._terms]
        if missing:
            await self._look_up(session, missing)
        n = max(self.chunks, 1.0)
        weights: dict[str, float] = {}
        frequency: dict[str, float] = {}
        for term in terms:
            lexeme, df = self._terms.get(term, (None, 0.0))
            if lexeme is not None and df > 0:
                weights[lexeme] = math.log(1 + (n - df + 0.5) / (df + 0.5))
                frequency[term] = df
        if not frequency:
            return None
        ordered = sorted(frequency, key=lambda t: frequency[t])
        lexemes, idf, any_term = list(weights), list(weights.values()), " | ".join(ordered)
        if n < self.prune_from:  # every chunk with any term is ranked
            return TextQuery(lexemes, idf, any_term)
        if scope_files / max(self.files, 1.0) * n <= self.budget:
            # A small scope of a large table: its own chunks are few, all of them are matched
            # (the rarest terms of the table may well be in none of them).
            return TextQuery(lexemes, idf, any_term, scope_first=True)
        # In a large table, the candidates are the chunks of the rarest terms, up to `budget`
        # of them (by document frequency); the other terms only add to their scores. A chunk
        # that has none of those rare terms could only rank on terms of low idf.
        chosen: list[str] = []
        total = 0.0
        for term in ordered:
            if total + frequency[term] > self.budget:
                break
            chosen.append(term)
            total += frequency[term]
        # When every term is common, the chunks with all of them score best.
        select = " | ".join(chosen) if chosen else " & ".join(ordered)
        return TextQuery(lexemes, idf, select, self.budget, any_term=any_term)

    async def fresh(self, session: AsyncSession) -> None:
        now = time.monotonic()
        if now >= self._fresh_until:
            await self._refresh(session)
            self._fresh_until = now + TEXT_STATS_TTL

    async def _refresh(self, session: AsyncSession) -> None:
        self._terms.clear()
        count = await session.execute(text("SELECT count(*) FROM file"))
        self.files = float(count.scalar_one())
        estimate = (
            await session.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = 'chunk'::regclass")
            )
        ).scalar_one()
        if estimate < SAMPLE_FROM:  # small (or never analysed): counted exactly
            row = (
                await session.execute(text("SELECT count(*), avg(length(tsv)) FROM chunk"))
            ).one()
        else:  # a sample of pages for the mean length
            percent = min(100.0, 100.0 * SAMPLE_FROM / float(estimate))
            row = (
                await session.execute(
                    text(
                        "SELECT CAST(:n AS float8), avg(length(tsv)) FROM chunk "
                        "TABLESAMPLE SYSTEM (:p)"
                    ),
                    {"n": float(estimate), "p": percent},
                )
            ).one()
        self.chunks = float(row[0] or 0)
        self.average_length = float(row[1] or 1.0) or 1.0
        found = await session.execute(
            text(
                "SELECT e, f FROM pg_stats, unnest(CAST(CAST(most_common_elems AS text) "
                "AS text[]), most_common_elem_freqs) AS m(e, f) "
                "WHERE tablename = 'chunk' AND attname = 'tsv' "
                "AND schemaname = current_schema()"
            )
        )
        self._common = {str(e): float(f) for e, f in found.all()}

    async def _look_up(self, session: AsyncSession, terms: list[str]) -> None:
        """Each term's lexeme (PostgreSQL's `english` stemming; None for a stop word) and how
        many chunks hold it, counted through the GIN index (frequent terms: ANALYZE's estimate,
        as counting them would read most of the table). One round trip."""
        rows = (
            await session.execute(
                text(
                    "SELECT t, l, CASE WHEN l IS NULL OR l = ANY(CAST(:common AS text[])) "
                    "THEN NULL ELSE (SELECT count(*) FROM chunk "
                    "WHERE tsv @@ to_tsquery('english', t)) END AS df "
                    "FROM (SELECT t, (SELECT min(lexeme) FROM unnest(to_tsvector('english', t))) "
                    "AS l FROM unnest(CAST(:terms AS text[])) AS t) AS terms"
                ),
                {"terms": terms, "common": list(self._common)},
            )
        ).all()
        for term, lexeme, df in rows:
            if lexeme is None:
                self._terms[term] = (None, 0.0)
            elif df is None:
                self._terms[term] = (lexeme, self._common[lexeme] * self.chunks)
            elif df:
                self._terms[term] = (lexeme, float(df))
                self.chunks = max(self.chunks, float(df))
            # (a term in no chunk is not kept: a chunk added in a moment may hold it)
        while len(self._terms) > TERMS_KEPT:
            self._terms.pop(next(iter(self._terms)))


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
        self._indexed: set[int] | None = None  # dimensions with an HNSW index
        self._building: dict[int, asyncio.Task[None]] = {}
        self.text_stats = TextStats(candidate_budget, prune_from)

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
                    "e": _vector(c.embedding),
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
        query, ids = _vector(embedding), list(file_ids)
        dimensions = len(query)
        await self.text_stats.fresh(session)
        share = len(ids) / max(1.0, self.text_stats.files)
        if (
            share >= self.min_share
            and await self._scope_exceeds(session, ids, share, max(self.exact_max_chunks, k))
            and await self._has_index(session, dimensions)
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

    async def _has_index(self, session: AsyncSession, dimensions: int) -> bool:
        if self._indexed is None:
            self._indexed = await indexed_dimensions(session)
        if dimensions in self._indexed:
            return True
        if dimensions <= HNSW_MAX_DIMENSIONS and dimensions not in self._building:
            bind = session.bind
            if isinstance(bind, AsyncEngine):
                self._building[dimensions] = asyncio.create_task(
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
                    self._indexed = await indexed_dimensions(conn)
                finally:
                    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), lock)
        except Exception:
            log.exception("could not build the HNSW index for %d dimensions", dimensions)
        finally:
            self._building.pop(dimensions, None)

    # --- full text ---------------------------------------------------------------------------
    async def search_text(
        self, session: AsyncSession, file_ids: Sequence[str], query: str, k: int
    ) -> list[Candidate]:
        terms = query_terms(query)
        if not file_ids or not terms or k <= 0:
            return []
        plan = await self.text_stats.plan(session, terms, len(file_ids))
        if plan is None:
            return []
        found = await self._rank_text(session, file_ids, plan, plan.select, plan.scope_first, k)
        if len(found) < k and plan.pruned:
            # Too few of the scope's chunks were among the candidates (its own chunks may hold
            # only the table's common terms): add up to `cap` of them that hold any term.
            seen = {c.chunk_id for c in found}
            more = await self._rank_text(session, file_ids, plan, plan.any_term, True, k)
            found += [c for c in more if c.chunk_id not in seen]
            found.sort(key=lambda c: (-c.score, c.chunk_id))
        return found[:k]

    async def _rank_text(
        self,
        session: AsyncSession,
        file_ids: Sequence[str],
        plan: TextQuery,
        select: str,
        scope_first: bool,
        k: int,
    ) -> list[Candidate]:
        """BM25 of the chunks of the scope that `select` matches (at most `plan.cap` of them).
        Each candidate's tsvector is cut down to the query's lexemes (setweight + ts_filter, in
        C) before its positions are counted, rather than unnesting every lexeme it has."""
        rows = (
            await session.execute(
                text(
                    "WITH q AS (SELECT * FROM unnest(CAST(:lexemes AS text[]), "
                    "CAST(:idf AS float8[])) AS q(lexeme, idf)), "
                    "hits AS MATERIALIZED (SELECT id, file_id, length(tsv) AS n, "
                    "ts_filter(setweight(tsv, 'A', CAST(:lexemes AS text[])), '{a}') AS m "
                    f"FROM {SCOPE_ROWS if scope_first else 'chunk'} "
                    f"WHERE tsv @@ to_tsquery('english', :select) AND {SCOPE_FILTER} "
                    "LIMIT :cap) "
                    "SELECT h.id, h.file_id, sum(q.idf * cardinality(t.positions) * :k1p1 / "
                    "(cardinality(t.positions) + :k1 * (1 - :b + :b * h.n / :avg))) AS s "
                    "FROM hits h CROSS JOIN LATERAL unnest(h.m) AS t "
                    "JOIN q ON q.lexeme = t.lexeme "
                    "GROUP BY h.id, h.file_id ORDER BY s DESC, h.id LIMIT :k"
                ),
                {
                    "lexemes": plan.lexemes,
                    "idf": plan.idf,
                    "select": select,
                    "cap": plan.cap,
                    "ids": list(file_ids),
                    "unscoped": False,
                    "k": k,
                    "k1": K1,
                    "k1p1": K1 + 1,
                    "b": B,
                    "avg": self.text_stats.average_length,
                },
            )
        ).all()
        return [Candidate(r.id, r.file_id, float(r.s)) for r in rows]

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


async def _being_built(conn: Any, name: str) -> bool:
    found = await conn.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p "
            "JOIN pg_class c ON c.oid = p.index_relid WHERE c.relname = :name)"
        ),
        {"name": name},
    )
    return bool(found.scalar())


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
