"""The `VectorIndex` plug-in point: chunk rows with their embedding and full-text entry.

Every method runs inside the caller's session/transaction, so a file's chunks,
vectors and BM25 rows commit (or roll back) together with the file's status.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import orjson
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass
class NewChunk:
    idx: int
    text: str
    meta: dict[str, Any]
    embedding: Sequence[float]


@dataclass
class Hit:
    chunk_id: int
    file_id: str
    text: str
    meta: dict[str, Any]
    score: float


@dataclass(frozen=True, slots=True)
class Candidate:
    """A search hit before its text and metadata are read: ranking and fusion need only this, so
    deep candidate lists cost no text transfer or JSON parsing (`VectorIndex.fetch` reads the
    few that are returned)."""

    chunk_id: int
    file_id: str
    score: float  # higher is better


@dataclass(frozen=True, slots=True)
class ChunkRow:
    """A chunk as the in-memory index holds it (`mirror.py`)."""

    chunk_id: int
    file_id: str
    text: str
    vector: Any  # float32 array (dim,)


@dataclass
class ScopeScores:
    """Every chunk of a search scope with both its scores, for document-level fusion.

    Chunks of one document are contiguous; `doc[i]` numbers chunk i's document (0..n-1) and
    `files[n]` names it. `keyword` is 0 where no query term matches. `doc_keyword`, when the
    index keeps it, is BM25 over each whole document (else fusion uses its best chunk's)."""

    chunk_ids: Any  # int64 (chunks,)
    doc: Any  # int (chunks,)
    files: Sequence[str]
    dense: Any  # float32 (chunks,): cosine similarity
    keyword: Any  # float32 (chunks,): BM25
    doc_keyword: Any | None = None  # float32 (documents,)

    @classmethod
    def empty(cls) -> ScopeScores:
        import numpy as np

        none = np.zeros(0, dtype=np.float32)
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), [], none, none, none)


# A chunk's text and metadata, by chunk id.
ChunkTexts = dict[int, tuple[str, dict[str, Any]]]


class VectorIndex(Protocol):
    async def add_chunks(
        self, session: AsyncSession, file_id: str, chunks: Sequence[NewChunk]
    ) -> None: ...

    async def delete_file(self, session: AsyncSession, file_id: str) -> None: ...

    async def delete_all(self, session: AsyncSession) -> None: ...

    async def count(self, session: AsyncSession, file_id: str) -> int: ...

    async def copy_file(
        self, session: AsyncSession, src_file_id: str, dst_file_id: str, meta_update: dict[str, Any]
    ) -> int: ...

    async def search(
        self, session: AsyncSession, file_ids: Sequence[str], embedding: Sequence[float], k: int
    ) -> list[Candidate]:
        """The `k` chunks of `file_ids` nearest to `embedding`, best first (score: cosine)."""
        ...

    async def search_text(
        self, session: AsyncSession, file_ids: Sequence[str], query: str, k: int
    ) -> list[Candidate]:
        """The `k` best full-text matches of `query`'s terms (OR-ed) in `file_ids`, best first."""
        ...

    async def fetch(self, session: AsyncSession, chunk_ids: Sequence[int]) -> ChunkTexts:
        """Text and metadata of these chunks (ids of deleted chunks are left out)."""
        ...

    def scan(
        self, session: AsyncSession, file_ids: Sequence[str] | None = None
    ) -> AsyncIterator[list[ChunkRow]]:
        """Every chunk of `file_ids` (None: of every file), in batches, grouped by file: a file's
        chunks are contiguous, in order."""
        ...


@runtime_checkable
class ScopeScoring(Protocol):
    """An index that can score every chunk of a scope at once (an in-memory copy)."""

    async def score(
        self,
        session: AsyncSession,
        file_ids: Sequence[str],
        embedding: Sequence[float] | None,
        query: str,
    ) -> ScopeScores | None:
        """None when it cannot now (the caller fuses candidate lists instead); without
        `embedding`, cosines are 0 (BM25 alone)."""
        ...


_WORD = re.compile(r"\w+", re.UNICODE)
# English stop words, as PostgreSQL's `english` text search configuration drops them (its
# snowball list): a term that matches nearly every chunk adds almost nothing to BM25 (its IDF is
# ~0) but makes SQLite score every one of them.
_STOP_WORDS = """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me
    more most my myself no nor not now of off on once only or other our ours ourselves out over
    own s same she should so some such t than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom why will with you your yours yourself yourselves
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


def query_terms(query: str) -> list[str]:
    """Distinct word terms of a natural-language query (OR-ed by the engines, so any term
    matches), without stop words unless the query has nothing else."""
    seen: dict[str, None] = {}
    for term in _WORD.findall(query.lower()):
        seen.setdefault(term, None)
    terms = list(seen)
    content = [t for t in terms if t not in STOP_WORDS]
    return (content or terms)[:64]


def load_meta(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, (str, bytes)):
        value = orjson.loads(value)
        if isinstance(value, dict):
            return value
    return {}


def dump_meta(meta: dict[str, Any]) -> str:
    return orjson.dumps(meta).decode()


async def fetch_texts(session: AsyncSession, chunk_ids: Sequence[int]) -> ChunkTexts:
    """`VectorIndex.fetch` for the `chunk` table both built-in indexes share."""
    if not chunk_ids:
        return {}
    stmt = text("SELECT id, text, meta FROM chunk WHERE id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    rows = (await session.execute(stmt, {"ids": list(chunk_ids)})).all()
    return {r.id: (r.text, load_meta(r.meta)) for r in rows}


SCAN_BATCH = 1000  # rows per batch: a full scan never holds the whole table's texts at once


async def scan_rows(
    session: AsyncSession, select_sql: str, file_ids: Sequence[str] | None, vector: Any
) -> AsyncIterator[list[ChunkRow]]:
    """`VectorIndex.scan` for the `chunk` table: `select_sql` selects id, file_id, text and the
    embedding `e` (which `vector` turns into a float32 array)."""
    where = "WHERE file_id IN :ids " if file_ids is not None else ""
    stmt = text(f"{select_sql} {where}ORDER BY file_id, idx")
    params: dict[str, Any] = {}
    if file_ids is not None:
        if not file_ids:
            return
        stmt = stmt.bindparams(bindparam("ids", expanding=True))
        params["ids"] = list(file_ids)
    result = await session.stream(stmt, params)
    async for batch in result.partitions(SCAN_BATCH):
        yield [ChunkRow(r.id, r.file_id, r.text, vector(r.e)) for r in batch]
