"""An in-process copy of the chunk index, searched with NumPy: vectors by cosine, words by BM25.

A query scoped to a collection of thousands of files cannot be fast in SQL: every file id is
bound into the statement, and the database decodes each row of the scope to score it. Here
the scope becomes a boolean mask over a contiguous float32 matrix (one matrix-vector product)
and over BM25 postings, so a 5,000-file collection answers in a few milliseconds on SQLite and
PostgreSQL alike. The database stays the truth: `memory.MemoryIndex` keeps this copy in step
through the change log (`changes.py`) and reads texts from the database.

BM25 is SQLite FTS5's (k1 1.2, b 0.75, Porter stems, `\\w+` terms) and is kept at two levels:
per chunk and per document (a file: its chunks' terms together), because on documents longer
than one chunk the whole document is the better keyword evidence (measured in
bench/retrieval_quality.py; see the README's retrieval notes).

A file loaded again (re-indexed) gets a new document slot; the old slot's rows are dead and
skipped by every scope. Dead rows are reclaimed by reloading the whole copy (`dead_share`).
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from collections.abc import Sequence
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, overload

import numpy as np

from wayline.vectors.base import Candidate, ChunkRow, ScopeScores, query_terms

K1, B = 1.2, 0.75  # FTS5's bm25() defaults
SCOPES_KEPT = 8
_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("porter")  # FTS5's `porter` tokenizer


_STEMS: dict[str, str] = {}


def stem(word: str) -> str:
    found = _STEMS.get(word)
    if found is None:
        found = _stemmer().stemWord(word)
        if len(_STEMS) < 1_000_000:
            _STEMS[word] = found
    return found


def terms_of(text: str) -> Counter[str]:
    """Stemmed term frequencies of a text, as FTS5's `porter unicode61` indexes it."""
    return Counter(stem(word) for word in _WORD.findall(text.lower()))


class _Postings:
    """term → (slots, term frequencies), growing by appends."""

    def __init__(self) -> None:
        self.slots: dict[str, array[int]] = {}
        self.freqs: dict[str, array[float]] = {}

    def add(self, slot: int, terms: Counter[str]) -> None:
        for term, tf in terms.items():
            slots = self.slots.get(term)
            if slots is None:
                self.slots[term] = array("i", [slot])
                self.freqs[term] = array("f", [tf])
            else:
                slots.append(slot)
                self.freqs[term].append(tf)

    def scores(
        self, terms: Sequence[str], lengths: Any, live: int, live_length: float, size: int
    ) -> Any:
        """BM25 of every slot for `terms`, an array of `size` (0 where no term matches); `live`
        slots of `live_length` terms in all make the statistics (dead slots are not counted)."""
        scores = np.zeros(size, dtype=np.float32)
        average = live_length / max(1, live) or 1.0
        for term in terms:
            slots = self.slots.get(term)
            if slots is None:
                continue
            at = np.frombuffer(slots, dtype=np.int32)
            tf = np.frombuffer(self.freqs[term], dtype=np.float32)
            df = len(at)
            idf = math.log(1 + (live - df + 0.5) / (df + 0.5)) if live >= df else 1e-6
            norm = K1 * (1 - B + B * lengths[at] / average)
            scores[at] += idf * tf * (K1 + 1) / (tf + norm)
        return scores


@dataclass
class Mirror:
    """The copy itself. Not thread-safe; `MemoryIndex` serialises changes, searches only read."""

    dimensions: int
    rows: int = 0
    vectors: Any = None
    chunk_ids: Any = None
    row_doc: Any = None  # row → document slot
    row_length: Any = None  # row → term count
    doc_length: Any = None  # document slot → term count
    doc_files: list[str] = field(default_factory=list)  # document slot → file id
    doc_rows: list[range] = field(default_factory=list)
    current: dict[str, int] = field(default_factory=dict)  # file id → live document slot
    generation: int = 0  # bumped by every change: cached scopes of older generations are stale
    _scopes: dict[tuple[int, tuple[str, ...]], Any] = field(default_factory=dict)
    live_rows: int = 0
    live_row_length: float = 0.0  # terms in the live rows
    live_doc_length: float = 0.0  # terms in the live documents
    chunk_terms: _Postings = field(default_factory=_Postings)
    doc_terms: _Postings = field(default_factory=_Postings)

    def __post_init__(self) -> None:
        self.vectors = np.zeros((1024, self.dimensions), dtype=np.float32)
        self.chunk_ids = np.zeros(1024, dtype=np.int64)
        self.row_doc = np.zeros(1024, dtype=np.int32)
        self.row_length = np.zeros(1024, dtype=np.float32)
        self.doc_length = np.zeros(256, dtype=np.float32)

    # --- changes ---------------------------------------------------------------------------
    @property
    def dead_share(self) -> float:
        return 1 - self.live_rows / self.rows if self.rows else 0.0

    def remove(self, file_id: str) -> None:
        slot = self.current.pop(file_id, None)
        if slot is not None:
            rows = self.doc_rows[slot]
            self.live_rows -= len(rows)
            self.live_row_length -= float(self.row_length[rows.start : rows.stop].sum())
            self.live_doc_length -= float(self.doc_length[slot])
            self.generation += 1

    def load(self, file_id: str, chunks: Sequence[ChunkRow]) -> None:
        """Replace `file_id`'s chunks with `chunks` (none: the file has no chunks now)."""
        self.remove(file_id)
        if not chunks:
            return
        slot = len(self.doc_files)
        start = self.rows
        self._reserve_rows(start + len(chunks))
        self._reserve_docs(slot + 1)
        document: Counter[str] = Counter()
        for offset, chunk in enumerate(chunks):
            row = start + offset
            terms = terms_of(chunk.text)
            document.update(terms)
            self.vectors[row] = chunk.vector
            self.chunk_ids[row] = chunk.chunk_id
            self.row_doc[row] = slot
            self.row_length[row] = sum(terms.values())
            self.chunk_terms.add(row, terms)
        self.rows = start + len(chunks)
        self.doc_files.append(file_id)
        self.doc_rows.append(range(start, self.rows))
        self.doc_length[slot] = sum(document.values())
        self.doc_terms.add(slot, document)
        self.current[file_id] = slot
        self.live_rows += len(chunks)
        self.live_row_length += float(self.row_length[start : self.rows].sum())
        self.live_doc_length += float(self.doc_length[slot])
        self.generation += 1

    def _reserve_rows(self, size: int) -> None:
        if size <= len(self.chunk_ids):
            return
        grown = max(size, 2 * len(self.chunk_ids))
        self.vectors = _grow(self.vectors, grown)
        self.chunk_ids = _grow(self.chunk_ids, grown)
        self.row_doc = _grow(self.row_doc, grown)
        self.row_length = _grow(self.row_length, grown)

    def _reserve_docs(self, size: int) -> None:
        if size > len(self.doc_length):
            self.doc_length = _grow(self.doc_length, max(size, 2 * len(self.doc_length)))

    # --- searches --------------------------------------------------------------------------
    def scope(self, file_ids: Sequence[str]) -> Any:
        """The live document slots of `file_ids` (files without chunks are left out). The last
        few scopes are remembered: a collection asked again costs a tuple hash, not a lookup
        per file."""
        key = (self.generation, tuple(file_ids))
        docs = self._scopes.get(key)
        if docs is None:
            current = self.current
            docs = np.fromiter(
                (slot for f in file_ids if (slot := current.get(f)) is not None), dtype=np.int64
            )
            if len(self._scopes) >= SCOPES_KEPT:
                self._scopes = {k: v for k, v in self._scopes.items() if k[0] == self.generation}
                while len(self._scopes) >= SCOPES_KEPT:
                    self._scopes.pop(next(iter(self._scopes)))
            self._scopes[key] = docs
        return docs

    def _row_mask(self, docs: Any) -> Any:
        in_scope = np.zeros(len(self.doc_files), dtype=bool)
        in_scope[docs] = True
        return in_scope[self.row_doc[: self.rows]]

    def search(self, docs: Any, embedding: Sequence[float], k: int) -> list[Candidate]:
        if not len(docs) or k <= 0:
            return []
        rows = np.flatnonzero(self._row_mask(docs))
        return self._top(rows, self._cosines(rows, embedding), k)

    def search_text(self, docs: Any, query: str, k: int) -> list[Candidate]:
        terms = [stem(t) for t in query_terms(query)]
        if not len(docs) or not terms or k <= 0:
            return []
        scores = self._chunk_bm25(terms)
        rows = np.flatnonzero(self._row_mask(docs) & (scores > 0))
        return self._top(rows, scores[rows], k)

    def score(self, docs: Any, embedding: Sequence[float] | None, query: str) -> ScopeScores:
        """Both scores of every chunk of the scope (cosines 0 without `embedding`: BM25 only),
        and BM25 of each whole document."""
        rows = np.flatnonzero(self._row_mask(docs)) if len(docs) else ()
        if not len(rows):
            return ScopeScores.empty()
        terms = [stem(t) for t in query_terms(query)]
        keyword = self._chunk_bm25(terms)
        slots = self.row_doc[rows]
        starts = np.flatnonzero(np.r_[True, slots[1:] != slots[:-1]])
        doc_slots = slots[starts]
        doc_keyword = self.doc_terms.scores(
            terms, self.doc_length, len(self.current), self.live_doc_length, len(self.doc_files)
        )
        return ScopeScores(
            chunk_ids=self.chunk_ids[rows],
            doc=np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(rows)])),
            files=_Names(self.doc_files, doc_slots),
            dense=self._cosines(rows, embedding)
            if embedding is not None
            else np.zeros(len(rows), dtype=np.float32),
            keyword=keyword[rows],
            doc_keyword=doc_keyword[doc_slots],
        )

    def _chunk_bm25(self, terms: Sequence[str]) -> Any:
        return self.chunk_terms.scores(
            terms, self.row_length, self.live_rows, self.live_row_length, self.rows
        )

    def _cosines(self, rows: Any, embedding: Sequence[float]) -> Any:
        """Cosine of each of `rows` (sorted) with `embedding`. A scope of many rows is scored over
        the contiguous span it covers and then picked: gathering its rows first would copy
        them (a 15k-chunk scope: 23 MB per query)."""
        query = np.asarray(embedding, dtype=np.float32)
        if not len(rows):
            return np.zeros(0, dtype=np.float32)
        first, last = int(rows[0]), int(rows[-1]) + 1
        if 2 * len(rows) >= last - first:
            return (self.vectors[first:last] @ query)[rows - first]
        return self.vectors[rows] @ query

    def _top(self, rows: Any, scores: Any, k: int) -> list[Candidate]:
        picked = best_indices(scores, k)
        return [
            Candidate(
                int(self.chunk_ids[rows[i]]),
                self.doc_files[int(self.row_doc[rows[i]])],
                float(scores[i]),
            )
            for i in picked
        ]


class _Names(SequenceABC[str]):
    """The file ids of some document slots, looked up only for the documents a search returns."""

    def __init__(self, files: list[str], slots: Any) -> None:
        self.files, self.slots = files, slots

    def __len__(self) -> int:
        return len(self.slots)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self.files[int(slot)] for slot in self.slots[index]]
        return self.files[int(self.slots[index])]


def best_indices(scores: Any, k: int) -> Any:
    """Indices of the `k` highest scores, best first (ties: lower index first)."""
    if len(scores) > k:
        top = np.argpartition(-scores, k - 1)[:k]
        return top[np.lexsort((top, -scores[top]))]
    return np.lexsort((np.arange(len(scores)), -scores))


def _grow(values: Any, size: int) -> Any:
    grown = np.zeros((size, *values.shape[1:]), dtype=values.dtype)
    grown[: len(values)] = values
    return grown
