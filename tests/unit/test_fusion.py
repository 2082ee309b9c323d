"""Reciprocal rank fusion: ranks, not scores, decide; weights follow Open WebUI's bm25 weight."""

from __future__ import annotations

import pytest

from wayline.retrieval.fusion import RRF_K, bm25_weights, rrf


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
