"""SQLite: float32 BLOB vectors scored with sqlite-vec's `vec_distance_cosine`; FTS5 `bm25()`
for text.

Searches are always scoped to a set of files (a collection), so the brute-force
distance scan only touches that collection's rows (see README for the 10k/100k figures).
"""

from __future__ import annotations

from array import array
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.vectors.base import (
    Candidate,
    ChunkRow,
    ChunkTexts,
    NewChunk,
    dump_meta,
    fetch_texts,
    load_meta,
    query_terms,
    scan_rows,
)


def _blob(embedding: Any) -> bytes:
    if hasattr(embedding, "astype"):  # a numpy row (what the ingestion runner passes)
        return embedding.astype("float32", copy=False).tobytes()
    return array("f", embedding).tobytes()  # float32, native order: what sqlite-vec reads


class SqliteVectorIndex:
    engine = "sqlite-vec"

    async def add_chunks(
        self, session: AsyncSession, file_id: str, chunks: Sequence[NewChunk]
    ) -> None:
        if not chunks:
            return
        await session.execute(
            text(
                "INSERT INTO chunk (file_id, idx, text, meta, embedding) "
                "VALUES (:f, :i, :t, :m, :e)"
            ),
            [
                {
                    "f": file_id,
                    "i": c.idx,
                    "t": c.text,
                    "m": dump_meta(c.meta),
                    "e": _blob(c.embedding),
                }
                for c in chunks
            ],
        )

    async def delete_file(self, session: AsyncSession, file_id: str) -> None:
        await session.execute(text("DELETE FROM chunk WHERE file_id = :f"), {"f": file_id})

    async def delete_all(self, session: AsyncSession) -> None:
        await session.execute(text("DELETE FROM chunk"))

    async def count(self, session: AsyncSession, file_id: str) -> int:
        return int(
            (
                await session.execute(
                    text("SELECT count(*) FROM chunk WHERE file_id = :f"), {"f": file_id}
                )
            ).scalar_one()
        )

    async def copy_file(
        self, session: AsyncSession, src_file_id: str, dst_file_id: str, meta_update: dict[str, Any]
    ) -> int:
        rows = (
            await session.execute(
                text(
                    "SELECT idx, text, meta, embedding FROM chunk WHERE file_id = :f ORDER BY idx"
                ),
                {"f": src_file_id},
            )
        ).all()
        if rows:
            await session.execute(
                text(
                    "INSERT INTO chunk (file_id, idx, text, meta, embedding) "
                    "VALUES (:f, :i, :t, :m, :e)"
                ),
                [
                    {
                        "f": dst_file_id,
                        "i": r.idx,
                        "t": r.text,
                        "m": dump_meta({**load_meta(r.meta), **meta_update}),
                        "e": r.embedding,
                    }
                    for r in rows
                ],
            )
        return len(rows)

    async def search(
        self, session: AsyncSession, file_ids: Sequence[str], embedding: Sequence[float], k: int
    ) -> list[Candidate]:
        if not file_ids or k <= 0:
            return []
        stmt = text(
            "SELECT id, file_id, vec_distance_cosine(embedding, :q) AS d FROM chunk "
            "WHERE file_id IN :ids ORDER BY d LIMIT :k"
        ).bindparams(bindparam("ids", expanding=True))
        rows = (
            await session.execute(stmt, {"q": _blob(embedding), "ids": list(file_ids), "k": k})
        ).all()
        return [Candidate(r.id, r.file_id, 1.0 - float(r.d)) for r in rows]

    async def search_text(
        self, session: AsyncSession, file_ids: Sequence[str], query: str, k: int
    ) -> list[Candidate]:
        terms = query_terms(query)
        if not file_ids or not terms or k <= 0:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        stmt = text(
            # CROSS JOIN keeps the FTS match as the outer loop; otherwise SQLite may walk the
            # collection's chunks and run the full-text query once per row (seconds, not ms).
            "SELECT c.id, c.file_id, bm25(chunk_fts) AS s FROM chunk_fts "
            "CROSS JOIN chunk c ON c.id = chunk_fts.rowid "
            "WHERE chunk_fts MATCH :q AND c.file_id IN :ids ORDER BY s LIMIT :k"
        ).bindparams(bindparam("ids", expanding=True))
        rows = (await session.execute(stmt, {"q": match, "ids": list(file_ids), "k": k})).all()
        # FTS5's bm25() is lower-is-better; flip the sign so every score is higher-is-better.
        return [Candidate(r.id, r.file_id, -float(r.s)) for r in rows]

    async def fetch(self, session: AsyncSession, chunk_ids: Sequence[int]) -> ChunkTexts:
        return await fetch_texts(session, chunk_ids)

    def scan(
        self, session: AsyncSession, file_ids: Sequence[str] | None = None
    ) -> AsyncIterator[list[ChunkRow]]:
        import numpy as np

        return scan_rows(
            session,
            "SELECT id, file_id, text, embedding AS e FROM chunk",
            file_ids,
            lambda blob: np.frombuffer(blob, dtype=np.float32),
        )
