"""Chunking: LangChain's recursive character split (Open WebUI's default) plus the
markdown-header pass."""

from __future__ import annotations

import itertools

import pytest

from wayline.extraction.chunking import Piece, markdown_sections, recursive_split, split_pieces


def test_matches_langchain_on_a_small_case() -> None:
    # RecursiveCharacterTextSplitter(chunk_size=7, chunk_overlap=3).split_text(...) gives exactly
    # this.
    assert [c for c, _ in recursive_split("aaa bbb ccc ddd", 7, 3)] == ["aaa bbb", "ccc", "ddd"]
    assert [c for c, _ in recursive_split("one two three four five six", 12, 6)] == [
        "one two",
        "two three",
        "three four",
        "four five",
        "five six",
    ]


def test_paragraphs_first_then_lines_then_words() -> None:
    text = "first paragraph here\n\nsecond paragraph here\nwith a second line"
    assert [c for c, _ in recursive_split(text, 25, 0)] == [
        "first paragraph here",
        "second paragraph here",
        "with a second line",
    ]


def test_size_overlap_and_start_index() -> None:
    text = " ".join(f"word{i}" for i in range(2000))
    out = recursive_split(text, 1000, 100)
    assert len(out) > 10
    for chunk, start in out:
        assert len(chunk) <= 1000
        assert text[start : start + len(chunk)] == chunk
    for (a, sa), (_, sb) in itertools.pairwise(out):
        assert sb < sa + len(a)  # consecutive chunks overlap
        assert sa + len(a) - sb <= 100


def test_unbreakable_text_is_cut_by_characters() -> None:
    out = recursive_split("x" * 2500, 1000, 100)
    assert [len(c) for c, _ in out] == [1000, 1000, 700]
    assert [s for _, s in out] == [0, 900, 1800]


def test_overlap_must_be_smaller_than_size() -> None:
    with pytest.raises(ValueError, match="CHUNK_OVERLAP"):
        recursive_split("abc", 100, 100)


def test_markdown_headers_split_sections_and_keep_headings() -> None:
    text = (
        "intro line\n# Title\nabout title\n## Sub\nabout sub\n```\n# not a header\n```\n# Next\nend"
    )
    sections = markdown_sections(text)
    assert [(s.strip().splitlines()[0], heads) for s, _, heads in sections] == [
        ("intro line", []),
        ("# Title", ["Title"]),
        ("## Sub", ["Title", "Sub"]),
        ("# Next", ["Next"]),
    ]
    assert "# not a header" in sections[2][0]
    pieces = split_pieces([Piece(text, {"page": 3})], 1000, 100, markdown=True)
    assert [p.meta.get("headings", []) for p in pieces] == [
        [],
        ["Title"],
        ["Title", "Sub"],
        ["Next"],
    ]
    for p in pieces:
        assert p.meta["page"] == 3
        assert text[p.meta["start_index"] :].startswith(p.text)


def test_markdown_pass_can_be_turned_off() -> None:
    text = "# A\nalpha\n# B\nbeta"
    assert [p.text for p in split_pieces([Piece(text)], 1000, 100, markdown=False)] == [text]
    assert [p.text for p in split_pieces([Piece(text)], 1000, 100, markdown=True)] == [
        "# A\nalpha",
        "# B\nbeta",
    ]
