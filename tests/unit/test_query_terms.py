"""Full-text query terms: distinct, lower-cased, OR-ed; English stop words dropped (as
PostgreSQL's `english` configuration drops them) unless nothing else is left."""

from __future__ import annotations

from wayline.vectors.base import query_terms


def test_stop_words_are_dropped_and_terms_kept_once_in_order() -> None:
    terms = query_terms("What is the effect of the 0-dimensional biomaterials on THE Effect?")
    assert terms == ["effect", "0", "dimensional", "biomaterials"]


def test_a_query_of_stop_words_only_keeps_them() -> None:
    assert query_terms("To be, or not to be") == ["to", "be", "or", "not"]


def test_terms_are_capped() -> None:
    assert len(query_terms(" ".join(f"w{i}" for i in range(100)))) == 64
