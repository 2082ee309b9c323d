"""HybridSearch over in-process stand-ins for the index and embedder: fusion, threshold,
top-k, de-duplication, and the shared query-vector cache."""

from __future__ import annotations

import asyncio

import pytest

from wayline.retrieval.search import HybridSearch, QueryEmbeddings, Result, SearchParams
from wayline.vectors.base import Candidate, Hit


def hit(cid: int, text: str, h: str | None = None, start: int = 0) -> Hit:
    return Hit(cid, f"f{cid}", text, {"hash": h, "start_index": start} if h else {}, 0.5)


def candidates(hits: list[Hit]) -> list[Candidate]:
    return [Candidate(h.chunk_id, h.file_id, h.score) for h in hits]


class Index:
    """Candidates by id and score; texts read on demand, as `VectorIndex` does."""

    def __init__(self, dense: list[Hit], sparse: list[Hit]) -> None:
        self.dense, self.sparse, self.calls = dense, sparse, []
        self.texts = {h.chunk_id: (h.text, h.meta) for h in [*dense, *sparse]}

    async def search(self, session, file_ids, embedding, k):
        self.calls.append(("dense", k))
        return candidates(self.dense[:k])

    async def search_text(self, session, file_ids, query, k):
        self.calls.append(("bm25", k))
        return candidates(self.sparse[:k])

    async def fetch(self, session, chunk_ids):
        self.calls.append(("fetch", len(chunk_ids)))
        return {i: self.texts[i] for i in chunk_ids if i in self.texts}


class Embedder:
    name, engine, dimensions = "m", "local", 2

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    async def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise RuntimeError("embedding upstream down")
        return [1.0, 0.0]


A, B, C, D = hit(1, "a"), hit(2, "b"), hit(3, "c"), hit(4, "d")


def run(coro):
    return asyncio.run(coro)


def test_hybrid_fuses_both_lists_then_cuts_to_k() -> None:
    index = Index([A, B, C], [D, B, A])
    out = run(
        HybridSearch(index, Embedder()).search(
            None, ["f"], "q", SearchParams(k=2, candidates=50, fusion="chunk")
        )
    )
    assert [r.hit.text for r in out] == ["a", "b"]
    assert index.calls == [("dense", 50), ("bm25", 50), ("fetch", 4)]
    assert out[0].relevance < 1.0 and out[0].relevance > out[1].relevance


def test_vector_only_and_bm25_only_modes() -> None:
    index = Index([A, B], [D, C])
    search = HybridSearch(index, Embedder())
    dense = run(search.search(None, ["f"], "q", SearchParams(k=5, hybrid=False)))
    assert [r.hit.text for r in dense] == ["a", "b"] and dense[
        0
    ].relevance == 0.5  # the cosine itself
    bm25 = run(search.search(None, ["f"], "q", SearchParams(k=5, bm25_weight=1.0, fusion="chunk")))
    assert [r.hit.text for r in bm25] == ["d", "c"]
    assert ("dense", 50) not in index.calls[3:]  # BM25-only never embeds or runs the vector search


def test_threshold_applies_to_normalised_relevance() -> None:
    index = Index([A, B], [A, C])
    out = run(
        HybridSearch(index, Embedder()).search(
            None, ["f"], "q", SearchParams(k=5, threshold=0.99, fusion="chunk")
        )
    )
    assert [r.hit.text for r in out] == ["a"]  # first in both lists: relevance 1.0


def test_identical_chunks_from_two_files_count_once() -> None:
    twin1, twin2 = hit(10, "same", "h1", 0), hit(11, "same", "h1", 0)
    out = run(
        HybridSearch(Index([twin1, twin2, B], []), Embedder()).search(
            None, ["f"], "q", SearchParams(k=5, hybrid=False)
        )
    )
    assert [r.hit.chunk_id for r in out] == [10, B.chunk_id]


def test_no_files_or_blank_query_searches_nothing() -> None:
    index = Index([A], [A])
    search = HybridSearch(index, Embedder())
    assert run(search.search(None, [], "q", SearchParams(k=3))) == []
    assert run(search.search(None, ["f"], "  ", SearchParams(k=3))) == []
    assert index.calls == []


def test_query_vectors_are_shared_and_cached_but_failures_are_not() -> None:
    async def scenario() -> None:
        embedder = Embedder()
        cache = QueryEmbeddings(embedder, size=2)
        first, second = await asyncio.gather(cache.get("q"), cache.get("q"))
        assert first == second and embedder.calls == 1
        await cache.get("q")
        assert embedder.calls == 1
        await cache.get("r"), await cache.get("s")  # evicts "q"
        await cache.get("q")
        assert embedder.calls == 4

        failing = QueryEmbeddings(Embedder(fail=True))
        with pytest.raises(RuntimeError):
            await failing.get("q")
        with pytest.raises(RuntimeError):
            await failing.get("q")
        assert failing.embedder.calls == 2  # retried, not a cached failure

    run(scenario())


def chunk(cid: int, doc: str) -> Hit:
    return Hit(cid, doc, f"{doc}#{cid}", {}, 0.5)


# Document "x" has chunks 1 and 2, "y" chunk 3, "z" chunk 4. The vector list ranks y's chunk
# first, BM25 z's; both find x second, through different chunks: only document-level fusion
# sees that both lists agree on x.
X1, X2, Y3, Z4 = (chunk(i, d) for i, d in enumerate("xxyz", start=1))
DENSE = [Y3, X1]
SPARSE = [Z4, X2]


def fused(mode: str, k: int = 4) -> list[Result]:
    out = run(
        HybridSearch(Index(DENSE, SPARSE), Embedder()).search(
            None, ["f"], "q", SearchParams(k=k, fusion=mode)
        )
    )
    assert all(0 < r.relevance <= 1 for r in out)
    assert [r.relevance for r in out] == sorted((r.relevance for r in out), reverse=True)
    return out


def texts(results: list[Result]) -> list[str]:
    return [r.hit.text for r in results]


def test_chunk_fusion_ranks_chunks_alone() -> None:
    assert texts(fused("chunk")) == ["y#3", "z#4", "x#1", "x#2"]  # 1/61 each, then 1/62


def test_document_fusion_of_the_database_lists() -> None:
    """Without an in-memory copy the two candidate lists are fused per document: x, second in
    both lists, beats y and z, each first in one list only, as the scores say x is close behind."""
    dense = [
        Hit(3, "y", "y#3", {}, 0.90),
        Hit(1, "x", "x#1", {}, 0.89),
        Hit(5, "w", "w#5", {}, 0.2),
    ]
    sparse = [Hit(4, "z", "z#4", {}, 9.0), Hit(2, "x", "x#2", {}, 8.9)]
    index = Index(dense, sparse)
    out = run(HybridSearch(index, Embedder()).search(None, ["f"], "q", SearchParams(k=4)))
    assert index.calls[:2] == [("dense", 50), ("bm25", 50)]
    # x's second chunk at half x's score (0.49) still beats z (0.4: BM25's best, no cosine).
    assert [r.hit.text for r in out] == ["x#1", "y#3", "x#2", "z#4"]
    assert [r.relevance for r in out] == sorted((r.relevance for r in out), reverse=True)
    assert out[0].relevance <= 1.0


def test_only_the_returned_chunks_are_read() -> None:
    index = Index(DENSE, SPARSE)
    run(HybridSearch(index, Embedder()).search(None, ["f"], "q", SearchParams(k=1, fusion="chunk")))
    assert index.calls[-1] == ("fetch", 4)  # 2k + 8 at most, and only as many as ranked


class Meeting(Index):
    """Each list waits until the other has started: they finish only when run at once."""

    def __init__(self, dense: list[Hit], sparse: list[Hit]) -> None:
        super().__init__(dense, sparse)
        self.sessions: dict[str, object] = {}

    async def _meet(self, mine: str, other: str, session: object) -> None:
        self.sessions[mine] = session
        self.started[mine].set()
        await asyncio.wait_for(self.started[other].wait(), 2)

    async def search(self, session, file_ids, embedding, k):
        await self._meet("dense", "bm25", session)
        return await super().search(session, file_ids, embedding, k)

    async def search_text(self, session, file_ids, query, k):
        await self._meet("bm25", "dense", session)
        return await super().search_text(session, file_ids, query, k)


def test_with_a_session_factory_the_two_lists_run_at_once() -> None:
    """In the database (no in-memory scores), the keyword list runs on a session of its own
    while the vector list runs on the request's; without a factory, one after the other on the
    request's session (the waits time out)."""

    class Own:
        async def __aenter__(self) -> str:
            return "own session"

        async def __aexit__(self, *exc: object) -> None:
            return None

    async def search(factory: object) -> tuple[list[Result], Meeting]:
        index = Meeting([A, B, C], [D, B, A])
        index.started = {"dense": asyncio.Event(), "bm25": asyncio.Event()}
        found = await HybridSearch(index, Embedder(), factory).search(  # type: ignore[arg-type]
            "request session", ["f"], "q", SearchParams(k=3)
        )
        return found, index

    found, index = run(search(Own))
    assert index.sessions == {"dense": "request session", "bm25": "own session"}
    alone = run(
        HybridSearch(Index([A, B, C], [D, B, A]), Embedder()).search(
            None, ["f"], "q", SearchParams(k=3)
        )
    )
    assert found == alone and len(found) == 3  # the same fusion as one after the other
    with pytest.raises(TimeoutError):
        run(search(None))


def test_a_failing_vector_list_raises_its_own_error_and_stops_the_keyword_list() -> None:
    """The error handlers see the database's own error (a 503), not an ExceptionGroup (a 500),
    and the keyword list's query does not run on."""

    class Failing(Index):
        keyword_cancelled = False

        async def search(self, session, file_ids, embedding, k):
            await asyncio.sleep(0.01)  # the keyword list is under way
            raise ConnectionError("database went away")

        async def search_text(self, session, file_ids, query, k):
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                Failing.keyword_cancelled = True
                raise
            return []

    class Own:
        async def __aenter__(self) -> str:
            return "own session"

        async def __aexit__(self, *exc: object) -> None:
            return None

    search = HybridSearch(Failing([A], [B]), Embedder(), Own)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError, match="database went away"):
        run(search.search("request session", ["f"], "q", SearchParams(k=3)))
    assert Failing.keyword_cancelled
