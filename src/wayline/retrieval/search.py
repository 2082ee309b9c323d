"""Hybrid search over a set of files: vector and BM25 scores fused per document (`fusion.combine`,
over every chunk of the scope when the index keeps an in-memory copy, else over each list's top
`candidates`) or per chunk by RRF (HYBRID_FUSION=chunk), then the relevance threshold, then top-k.

Candidates carry ids and scores only; the text and metadata of the ones returned are read
afterwards (`VectorIndex.fetch`), so deep candidate lists cost little.

`distances` reported to clients are relevances in [0, 1], higher is better: the cosine
similarity in vector-only mode; in hybrid mode the document's fused score (1.0 = first in both
lists), or per chunk the RRF score divided by its maximum. `RAG_RELEVANCE_THRESHOLD` applies
to that number.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wayline.embeddings.base import Embedder
from wayline.retrieval.fusion import (
    Fusion,
    bm25_weights,
    combine,
    rrf,
    scores_of,
    vector_share,
)
from wayline.vectors.base import Candidate, Hit, ScopeScoring, VectorIndex


@dataclass(frozen=True)
class SearchParams:
    k: int
    hybrid: bool = True
    bm25_weight: float = 0.5
    threshold: float = 0.0
    candidates: int = 50
    fusion: Fusion = "document"


@dataclass(frozen=True)
class Result:
    hit: Hit
    relevance: float


def _dedupe(results: list[Result]) -> list[Result]:
    # The same text linked twice (two files with one content hash, added while still processing)
    # would otherwise fill the context with copies.
    seen: set[tuple[object, object, str]] = set()
    out = []
    for r in results:
        meta = r.hit.meta or {}
        key = (
            (meta.get("hash"), meta.get("start_index"), r.hit.text)
            if meta.get("hash")
            else (r.hit.chunk_id, None, "")
        )
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


class QueryEmbeddings:
    """Query vectors, computed once per distinct text (LRU) and shared by concurrent requests.

    Embedding the query is most of RAG's added latency on CPU; the same question comes
    back often (regenerations, retries, the same question from many users), and a task
    started early (`prefetch`) overlaps with the access checks."""

    def __init__(self, embedder: Embedder, size: int = 512) -> None:
        self.embedder = embedder
        self.size = size
        self._tasks: OrderedDict[str, asyncio.Future[list[float]]] = OrderedDict()

    def prefetch(self, text: str) -> asyncio.Future[list[float]]:
        task = self._tasks.get(text)
        if task is not None:
            self._tasks.move_to_end(text)
            return task
        task = asyncio.ensure_future(self.embedder.embed_query(text))
        self._tasks[text] = task

        def forget_failure(done: asyncio.Future[list[float]]) -> None:
            failed = done.cancelled() or done.exception() is not None
            if failed and self._tasks.get(text) is done:
                del self._tasks[text]

        task.add_done_callback(forget_failure)
        while len(self._tasks) > self.size:
            self._tasks.popitem(last=False)
        return task

    async def get(self, text: str) -> list[float]:
        # Shielded: one caller going away must not cancel the vector others are waiting for.
        return await asyncio.shield(self.prefetch(text))


class HybridSearch:
    """`sessions`, when given, lets the two candidate lists of a database search run at once:
    the keyword list on a connection of its own while the vector list runs on the request's
    (at a million chunks on PostgreSQL each takes ~10-20 ms of one core)."""

    def __init__(
        self,
        index: VectorIndex,
        embedder: Embedder,
        sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.sessions = sessions
        self.queries = QueryEmbeddings(embedder)

    async def search(
        self, session: AsyncSession, file_ids: Sequence[str], query: str, params: SearchParams
    ) -> list[Result]:
        if not file_ids or not query.strip():
            return []
        if not params.hybrid or params.bm25_weight <= 0:
            embedding = await self.queries.get(query)
            dense = await self.index.search(session, file_ids, embedding, params.k + 16)
            ranked = [(c, c.score) for c in dense]
        elif params.fusion == "document":
            ranked = await self._by_document(session, file_ids, query, params)
        else:
            ranked = await self._by_chunk(session, file_ids, query, params)
        if params.threshold > 0:
            ranked = [(c, r) for c, r in ranked if r >= params.threshold]
        return await self._read(session, ranked, params.k)

    async def _by_document(
        self, session: AsyncSession, file_ids: Sequence[str], query: str, params: SearchParams
    ) -> list[tuple[Candidate, float]]:
        share = vector_share(params.bm25_weight)
        embedding = await self.queries.get(query) if share > 0 else None
        scores = None
        if isinstance(self.index, ScopeScoring):
            scores = await self.index.score(session, file_ids, embedding, query)
        if scores is None:  # no in-memory copy: fuse the database's candidate lists
            pool = max(params.candidates, params.k)
            dense, keyword = await self._lists(session, file_ids, embedding, query, pool, True)
            scores = scores_of(dense, keyword)
        # More than k: duplicates and chunks deleted meanwhile are dropped when read.
        return combine(scores, share, limit=4 * params.k + 16)

    async def _by_chunk(
        self, session: AsyncSession, file_ids: Sequence[str], query: str, params: SearchParams
    ) -> list[tuple[Candidate, float]]:
        pool = max(params.candidates, params.k)
        w_vec, w_bm25 = bm25_weights(params.bm25_weight)
        embedding = await self.queries.get(query) if w_vec > 0 else None
        dense, sparse = await self._lists(session, file_ids, embedding, query, pool, False)
        fused = rrf([dense, sparse], key=lambda c: c.chunk_id, weights=[w_vec, w_bm25])
        return [(f.item, f.relevance) for f in fused]

    async def _lists(
        self,
        session: AsyncSession,
        file_ids: Sequence[str],
        embedding: list[float] | None,
        query: str,
        pool: int,
        in_database: bool,
    ) -> tuple[list[Candidate], list[Candidate]]:
        """The vector list (empty without an embedding) and the keyword list, of `pool` each;
        at once when both are database queries and a second session can be had."""
        if embedding is None:
            return [], await self.index.search_text(session, file_ids, query, pool)
        if self.sessions is None or not in_database:
            dense = await self.index.search(session, file_ids, embedding, pool)
            return dense, await self.index.search_text(session, file_ids, query, pool)
        sessions = self.sessions

        async def keyword() -> list[Candidate]:
            async with sessions() as own:
                return await self.index.search_text(own, file_ids, query, pool)

        # Not a TaskGroup: its ExceptionGroup would hide the error from the handlers (a 503 for
        # a database that went away would become a 500).
        sparse = asyncio.ensure_future(keyword())
        try:
            dense = await self.index.search(session, file_ids, embedding, pool)
        except BaseException:
            sparse.cancel()
            await asyncio.gather(sparse, return_exceptions=True)
            raise
        return dense, await sparse

    async def _read(
        self, session: AsyncSession, ranked: list[tuple[Candidate, float]], k: int
    ) -> list[Result]:
        """The first `k` distinct results of `ranked`, with their text: read a few more than k
        at a time, as duplicates (and chunks deleted meanwhile) are dropped."""
        results: list[Result] = []
        start = 0
        while len(results) < k and start < len(ranked):
            batch = ranked[start : start + 2 * k + 8]
            start += len(batch)
            texts = await self.index.fetch(session, [c.chunk_id for c, _ in batch])
            for candidate, relevance in batch:
                if candidate.chunk_id in texts:
                    text, meta = texts[candidate.chunk_id]
                    hit = Hit(candidate.chunk_id, candidate.file_id, text, meta, candidate.score)
                    results.append(Result(hit, relevance))
            results = _dedupe(results)
        return results[:k]
