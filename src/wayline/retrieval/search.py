"""Hybrid search over a set of files: vector top-n and BM25 top-n, fused by RRF (per chunk,
per document or both: `fusion.fuse`), then the relevance threshold, then top-k.

Candidates carry ids and scores only; the text and metadata of the ones returned are read
afterwards (`VectorIndex.fetch`), so deep candidate lists cost little.

`distances` reported to clients are relevances in [0, 1], higher is better: the cosine
similarity in vector-only mode, and the RRF score divided by its maximum (first in
every list = 1.0) in hybrid mode; `RAG_RELEVANCE_THRESHOLD` applies to that number.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.embeddings.base import Embedder
from wayline.retrieval.fusion import Fusion, bm25_weights, fuse
from wayline.vectors.base import Candidate, Hit, VectorIndex


@dataclass(frozen=True)
class SearchParams:
    k: int
    hybrid: bool = True
    bm25_weight: float = 0.5
    threshold: float = 0.0
    candidates: int = 50
    fusion: Fusion = "chunk"


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
    def __init__(self, index: VectorIndex, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder
        self.queries = QueryEmbeddings(embedder)

    async def search(
        self, session: AsyncSession, file_ids: Sequence[str], query: str, params: SearchParams
    ) -> list[Result]:
        if not file_ids or not query.strip():
            return []
        pool = max(params.candidates, params.k)
        w_vec, w_bm25 = bm25_weights(params.bm25_weight) if params.hybrid else (1.0, 0.0)
        dense: list[Candidate] = []
        sparse: list[Candidate] = []
        if w_vec > 0:
            embedding = await self.queries.get(query)
            dense = await self.index.search(session, file_ids, embedding, pool)
        if w_bm25 > 0:
            sparse = await self.index.search_text(session, file_ids, query, pool)
        if not params.hybrid:
            ranked = [(c, c.score) for c in dense]
        else:
            fused = fuse(
                [dense, sparse],
                key=lambda c: c.chunk_id,
                document=lambda c: c.file_id,
                weights=[w_vec, w_bm25],
                mode=params.fusion,
            )
            ranked = [(f.item, f.relevance) for f in fused]
        if params.threshold > 0:
            ranked = [(c, r) for c, r in ranked if r >= params.threshold]
        return await self._read(session, ranked, params.k)

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
