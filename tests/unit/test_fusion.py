"""Fusion: reciprocal rank (ranks, not scores, decide; weights follow Open WebUI's bm25 weight)
and per-document combination of scaled scores."""

from __future__ import annotations

import numpy as np
import pytest

from wayline.retrieval.fusion import (
    RRF_K,
    VECTOR_SHARE,
    bm25_weights,
    combine,
    rrf,
    scores_of,
    vector_share,
)
from wayline.vectors.base import Candidate, ScopeScores


def ident(x: str) -> str:
    return x


def test_item_ranked_well_in_both_lists_beats_single_list_leaders() -> None:
    dense = ["a", "b", "c"]
    sparse = ["d", "b", "a"]
    fused = rrf([dense, sparse], ident)
    order = [f.item for f in fused]
    # a: 1/61 + 1/63 > b: 2/62 > d: 1/61 > c: 1/63
    assert order == ["a", "b", "d", "c"]


def test_scores_are_reciprocal_ranks_with_k_60() -> None:
    fused = {f.item: f for f in rrf([["x", "y"], ["y"]], ident)}
    assert fused["x"].score == pytest.approx(1 / (RRF_K + 1))
    assert fused["y"].score == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))


def test_relevance_is_one_only_for_first_in_every_list() -> None:
    fused = rrf([["x", "y"], ["x", "y"]], ident)
    assert fused[0].item == "x" and fused[0].relevance == pytest.approx(1.0)
    assert 0 < fused[1].relevance < 1


def test_duplicate_within_a_list_counts_once_at_best_rank() -> None:
    fused = {f.item: f.score for f in rrf([["x", "x", "y"]], ident)}
    assert fused["x"] == pytest.approx(1 / 61)
    assert fused["y"] == pytest.approx(1 / 63)


def test_zero_weight_drops_a_list() -> None:
    fused = rrf([["a", "b"], ["c"]], ident, weights=[1.0, 0.0])
    assert [f.item for f in fused] == ["a", "b"]


def test_bm25_weight_mapping() -> None:
    assert bm25_weights(0.5) == (1.0, 1.0)
    assert bm25_weights(0.0) == (2.0, 0.0)
    assert bm25_weights(1.0) == (0.0, 2.0)
    assert bm25_weights(7) == (0.0, 2.0)


def test_empty_lists_fuse_to_nothing() -> None:
    assert rrf([[], []], ident) == []


def test_weight_count_must_match() -> None:
    with pytest.raises(ValueError):
        rrf([["a"]], ident, weights=[1.0, 1.0])


def scope(files: str, dense: list[float], keyword: list[float], doc_keyword=None) -> ScopeScores:
    """Chunk i belongs to document files[i] (a letter); documents are numbered in order."""
    names = list(dict.fromkeys(files))
    return ScopeScores(
        chunk_ids=np.arange(len(files), dtype=np.int64),
        doc=np.array([names.index(f) for f in files]),
        files=names,
        dense=np.array(dense, dtype=np.float32),
        keyword=np.array(keyword, dtype=np.float32),
        doc_keyword=None if doc_keyword is None else np.array(doc_keyword, dtype=np.float32),
    )


def test_documents_are_ranked_by_scaled_scores_and_chunks_decay_with_depth() -> None:
    # a: the best cosine and half the best BM25; b: the best BM25 and the lowest cosine.
    scores = scope("aabc", [0.9, 0.5, 0.1, 0.3], [2.0, 0.0, 4.0, 0.0])
    out = combine(scores, share=0.6, limit=10)
    ranked = [(c.file_id, c.chunk_id, round(r, 4)) for c, r in out]
    # a: 0.6·1 + 0.4·0.5 = 0.8; b: 0.6·0 + 0.4·1 = 0.4; c: 0.6·0.25 = 0.15.
    assert ranked == [("a", 0, 0.8), ("a", 1, 0.4), ("b", 2, 0.4), ("c", 3, 0.15)]


def test_whole_document_bm25_replaces_the_best_chunks_when_given() -> None:
    scores = scope("ab", [0.5, 0.5], [3.0, 1.0], doc_keyword=[1.0, 3.0])
    assert [c.file_id for c, _ in combine(scores, share=0.5, limit=2)] == ["b", "a"]
    scores.doc_keyword = None
    assert [c.file_id for c, _ in combine(scores, share=0.5, limit=2)] == ["a", "b"]


def test_vector_share_follows_the_bm25_weight() -> None:
    assert vector_share(0.0) == 1.0 and vector_share(1.0) == 0.0
    assert vector_share(0.5) == pytest.approx(VECTOR_SHARE)
    assert vector_share(0.3) > vector_share(0.5) > vector_share(0.7)


def test_candidate_lists_become_scope_scores() -> None:
    dense = [Candidate(1, "x", 0.9), Candidate(3, "y", 0.4)]
    keyword = [Candidate(2, "x", 5.0), Candidate(1, "x", 2.0)]
    scores = scores_of(dense, keyword)
    assert scores.files == ["x", "y"] and list(scores.chunk_ids) == [1, 2, 3]
    # chunk 2 was not in the vector list: it gets that list's lowest cosine; 3 gets BM25 0.
    assert list(np.round(scores.dense, 3)) == [0.9, 0.4, 0.4]
    assert list(scores.keyword) == [2.0, 5.0, 0.0]
    assert combine(scores_of([], []), share=0.5, limit=3) == []
