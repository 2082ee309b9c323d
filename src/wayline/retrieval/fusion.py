"""Reciprocal rank fusion: merge ranked lists by rank, not by their incomparable scores.

BM25 scores and cosine similarities live on different scales, so adding them needs a
calibration nobody has; RRF (Cormack et al., 2009) only uses each item's rank:
score(d) = Σ_lists w_l / (k + rank_l(d)), with k = 60. Weights default to 1 for
every list; Open WebUI's `hybrid_bm25_weight` w maps to (2·(1−w), 2·w), so 0.5 is
plain RRF, 0 is vector only and 1 is BM25 only.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

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


Fusion = Literal["chunk", "document", "blend"]


def fuse(
    lists: Sequence[Sequence[T]],
    key: Callable[[T], Hashable],
    document: Callable[[T], Hashable],
    *,
    weights: Sequence[float],
    mode: Fusion,
    k: int = RRF_K,
) -> list[Fused[T]]:
    """Fuse ranked chunk lists per chunk, per document, or both (`mode`).

    - "chunk": plain RRF over the chunks.
    - "document": RRF over each list's documents, ranked by their best chunk in it; chunks
      follow their document's rank, then their own fused rank. A document that both lists
      find wins over a chunk that only one ranks high: on documents longer than one chunk
      the two lists often agree on the document and not on the chunk.
    - "blend": each chunk's RRF score plus its document's.
    """
    chunks = rrf(lists, key=key, k=k, weights=weights)
    if mode == "chunk":
        return chunks
    docs = rrf(
        [list(dict.fromkeys(document(item) for item in ranked)) for ranked in lists],
        key=lambda d: d,
        k=k,
        weights=weights,
    )
    doc_score = {f.item: f.score for f in docs}
    best = sum(w for w in weights if w > 0) / (k + 1)
    if mode == "document":
        order = sorted(chunks, key=lambda f: (-doc_score[document(f.item)], -f.score))
        return [
            Fused(f.item, doc_score[document(f.item)], doc_score[document(f.item)] / best)
            for f in order
        ]
    blended = [(f, f.score + doc_score[document(f.item)]) for f in chunks]
    blended.sort(key=lambda pair: -pair[1])
    return [Fused(f.item, score, score / (2 * best)) for f, score in blended]
