"""Full text over the chunk table: BM25 (k1 1.2, b 0.75, as SQLite FTS5 and the in-memory index
rank) computed in SQL from each candidate's tsvector (term frequencies from its positions,
length in distinct lexemes) and cached table statistics (`TextStats`).

`ts_rank` has no document frequencies and lost on Cranfield (hybrid nDCG@10 0.374 vs 0.389 now,
SQLite 0.390; bench/retrieval_quality.py with the in-memory copy off). Candidates come through
the GIN index. In a large table only about `CANDIDATE_BUDGET` of them are read: the chunks of the
query's rarest terms (the others only add to their scores), or, when every term is common, the
chunks holding all of them; when too few of those are in the scope, up to as many of the
scope's own chunks with any term. A small scope is matched through its own chunks. Ranking
every chunk of a common word cost seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.vectors.base import Candidate, query_terms
from wayline.vectors.pgvector.sql import SCOPE_FILTER, SCOPE_ROWS

K1, B = 1.2, 0.75
TEXT_STATS_TTL = 300.0  # seconds a process keeps chunk counts and term frequencies
SAMPLE_FROM = 200_000  # chunks from which the mean length is sampled, not computed
# In a table of PRUNE_FROM chunks or more, a full-text query reads and ranks at most about
# CANDIDATE_BUDGET chunks (the rarest terms' chunks; below, every chunk with any term). Reading and
# ranking a candidate costs ~7 µs: 2,000 keep the full-text side at 16 ms p50 at a million
# chunks (bench/pgvector_scale.py).
PRUNE_FROM = 50_000
CANDIDATE_BUDGET = 2_000
TERMS_KEPT = 20_000


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


class FullText:
    """BM25 search of a scope's chunks; `stats` is shared with the vector side, which reads
    the table's file and chunk counts from it."""

    def __init__(self, stats: TextStats) -> None:
        self.stats = stats

    async def search(
        self, session: AsyncSession, file_ids: Sequence[str], query: str, k: int
    ) -> list[Candidate]:
        terms = query_terms(query)
        if not file_ids or not terms or k <= 0:
            return []
        plan = await self.stats.plan(session, terms, len(file_ids))
        if plan is None:
            return []
        found = await self._rank(session, file_ids, plan, plan.select, plan.scope_first, k)
        if len(found) < k and plan.pruned:
            # Too few of the scope's chunks were among the candidates (its own chunks may hold
            # only the table's common terms): add up to `cap` of them that hold any term.
            seen = {c.chunk_id for c in found}
            more = await self._rank(session, file_ids, plan, plan.any_term, True, k)
            found += [c for c in more if c.chunk_id not in seen]
            found.sort(key=lambda c: (-c.score, c.chunk_id))
        return found[:k]

    async def _rank(
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
                    "avg": self.stats.average_length,
                },
            )
        ).all()
        return [Candidate(r.id, r.file_id, float(r.s)) for r in rows]
