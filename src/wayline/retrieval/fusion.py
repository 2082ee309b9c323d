"""Fusion of the vector and keyword lists.

- Per document (HYBRID_FUSION=document, the default): `combine`, a convex combination of the
  two scores scaled over the scope, calibrated on the benchmark sets (`VECTOR_SHARE`).
- Per chunk (HYBRID_FUSION=chunk): reciprocal rank fusion (Cormack et al., 2009), which uses
  only each item's rank: score(d) = Σ_lists w_l / (k + rank_l(d)), with k = 60. Open WebUI's
  `hybrid_bm25_weight` w maps to weights (2·(1−w), 2·w), so 0.5 is plain RRF, 0 is vector
  only and 1 is BM25 only.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from wayline.vectors.base import Candidate, ScopeScores

RRF_K = 60

T = TypeVar("T")


@dataclass(frozen=True)
class Fused(Generic[T]):
    item: T
    score: float  # the raw RRF score
    relevance: float  # score / best possible score: 1.0 = ranked first in every list


def rrf(
    lists: Sequence[Sequence[T]],
    key: Callable[[T], Hashable],
    *,
    k: int = RRF_K,
    weights: Sequence[float] | None = None,
) -> list[Fused[T]]:
    """Fuse ranked lists (best first) into one list, best first; ties keep first-seen order."""
    weights = list(weights) if weights is not None else [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError("one weight per list")
    scores: dict[Hashable, float] = {}
    items: dict[Hashable, T] = {}
    for ranked, weight in zip(lists, weights, strict=True):
        if weight <= 0:
            continue
        seen: set[Hashable] = set()
        for rank, item in enumerate(ranked, start=1):
            ident = key(item)
            if ident in seen:  # a list naming an item twice counts it once, at its best rank
                continue
            seen.add(ident)
            items.setdefault(ident, item)
            scores[ident] = scores.get(ident, 0.0) + weight / (k + rank)
    best = sum(w for w in weights if w > 0) / (k + 1)
    order = sorted(scores, key=lambda ident: -scores[ident])  # stable: insertion order on ties
    return [Fused(items[i], scores[i], scores[i] / best if best else 0.0) for i in order]


def bm25_weights(bm25_weight: float) -> tuple[float, float]:
    """(vector weight, BM25 weight) for Open WebUI's `hybrid_bm25_weight` in [0, 1]."""
    w = min(max(bm25_weight, 0.0), 1.0)
    return 2 * (1 - w), 2 * w


Fusion = Literal["chunk", "document"]

# The vector side's share at Open WebUI's default bm25 weight (0.5), measured on both benchmark
# sets (bench/retrieval_quality.py; README "Retrieval"): nDCG@10 SciFact-train / Cranfield with
# a vector share of 0.4 → 0.735 / 0.393, 0.5 → 0.746 / 0.398, 0.6 → 0.749 / 0.401, 0.7 → 0.748 /
# 0.400. RRF of the same two document lists: 0.726 / 0.400.
VECTOR_SHARE = 0.6
DEPTH_DECAY = 0.5  # a document's second chunk counts half its first, its third a quarter…


def vector_share(bm25_weight: float) -> float:
    """The vector side's weight in document fusion for Open WebUI's `hybrid_bm25_weight` w:
    0 → vectors only, 1 → BM25 only, 0.5 → the measured balance (VECTOR_SHARE)."""
    w = min(max(bm25_weight, 0.0), 1.0)
    vector, keyword = VECTOR_SHARE * (1 - w), (1 - VECTOR_SHARE) * w
    return vector / (vector + keyword)


def _min_max(values: Any) -> Any:
    import numpy as np

    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 0.0)
    if high <= low:
        return np.ones_like(values)
    return (values - low) / (high - low)


def _by_top(values: Any) -> Any:
    import numpy as np

    top = float(values.max()) if len(values) else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def combine(scores: ScopeScores, share: float, limit: int) -> list[tuple[Candidate, float]]:
    """Rank documents, then hand out their chunks, up to `limit`.

    A document's score is `share` × its best chunk's cosine (min-max scaled over the scope) +
    (1 − `share`) × its BM25 (over the whole document where the index keeps it, else its best
    chunk's; divided by the scope's best). A convex combination of scaled scores, not RRF:
    on both benchmark sets it ranks better, because it keeps how far ahead a clear winner is.
    Within a document, chunks are ordered by the same formula applied to the chunks; the one
    at depth d (0 = best) scores the document's score × DEPTH_DECAY**d. So every document's
    best chunk comes in document order, and a document far ahead of the next one contributes
    several chunks before it. The score is the relevance reported (1.0: first in both lists)."""
    import numpy as np

    if not len(scores.chunk_ids) or limit <= 0:
        return []
    doc = scores.doc
    starts = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
    ends = np.r_[starts[1:], len(doc)]
    doc_keyword = (
        scores.doc_keyword
        if scores.doc_keyword is not None
        else np.maximum.reduceat(scores.keyword, starts)
    )
    doc_score = share * _min_max(np.maximum.reduceat(scores.dense, starts)) + (1 - share) * _by_top(
        doc_keyword
    )
    chunk_score = share * _min_max(scores.dense) + (1 - share) * _by_top(scores.keyword)
    entries: list[tuple[float, int, int, int]] = []  # (-score, document rank, depth, row)
    from wayline.vectors.mirror import best_indices  # numpy-backed: loaded with the first search

    for rank, d in enumerate(best_indices(doc_score, limit)):
        queue = starts[d] + np.argsort(-chunk_score[starts[d] : ends[d]], kind="stable")
        for depth, row in enumerate(queue[:limit]):
            entries.append((-float(doc_score[d]) * DEPTH_DECAY**depth, rank, depth, int(row)))
    entries.sort()
    return [
        (
            Candidate(int(scores.chunk_ids[row]), scores.files[doc[row]], float(chunk_score[row])),
            -negative,
        )
        for negative, _, _, row in entries[:limit]
    ]


def scores_of(dense: Sequence[Candidate], keyword: Sequence[Candidate]) -> ScopeScores:
    """`ScopeScores` from the two candidate lists of a database search (the index keeps no
    copy in memory): a chunk missing from the vector list gets that list's lowest cosine, one
    missing from the BM25 list 0."""
    import numpy as np

    floor = min((c.score for c in dense), default=0.0)
    chunks: dict[int, list[Any]] = {}
    for c in dense:
        chunks[c.chunk_id] = [c.file_id, c.score, 0.0]
    for c in keyword:
        chunks.setdefault(c.chunk_id, [c.file_id, floor, 0.0])[2] = max(c.score, 0.0)
    order = sorted(chunks, key=lambda i: (chunks[i][0], i))
    files = list(dict.fromkeys(chunks[i][0] for i in order))
    number = {f: n for n, f in enumerate(files)}
    return ScopeScores(
        chunk_ids=np.array(order, dtype=np.int64),
        doc=np.array([number[chunks[i][0]] for i in order], dtype=np.int64),
        files=files,
        dense=np.array([chunks[i][1] for i in order], dtype=np.float32),
        keyword=np.array([chunks[i][2] for i in order], dtype=np.float32),
    )
