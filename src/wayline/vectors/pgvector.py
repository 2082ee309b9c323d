"""PostgreSQL: pgvector cosine distance (`<=>`) and a generated `tsvector` ranked with `ts_rank`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core.db import affected
from wayline.vectors.base import (
    Candidate,
    ChunkRow,
    ChunkTexts,
    NewChunk,
    dump_meta,
    fetch_texts,
    query_terms,
    scan_rows,
)


def _vec(embedding: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in embedding) + "]"


class PgVectorIndex:
    engine = "pgvector"

    async def add_chunks(
        self, session: AsyncSession, file_id: str, chunks: Sequence[NewChunk]
    ) -> None:
        if not chunks:
            return
        await session.execute(
            text(
                "INSERT INTO chunk (file_id, idx, text, meta, embedding) "
                "VALUES (:f, :i, :t, CAST(:m AS json), CAST(:e AS vector))"
            ),
            [
                {
                    "f": file_id,
                    "i": c.idx,
                    "t": c.text.replace("\x00", ""),
                    "m": dump_meta(c.meta),
                    "e": _vec(c.embedding),
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
        result = await session.execute(
            text(
                "INSERT INTO chunk (file_id, idx, text, meta, embedding) "
                "SELECT :dst, idx, text, "
                "CAST((meta::jsonb || CAST(:patch AS jsonb)) AS json), embedding "
                "FROM chunk WHERE file_id = :src ORDER BY idx"
            ),
            {"dst": dst_file_id, "src": src_file_id, "patch": dump_meta(meta_update)},
        )
        # An INSERT gives a CursorResult; `AsyncSession.execute` is typed as the base `Result`.
        return affected(result)

    async def search(
        self, session: AsyncSession, file_ids: Sequence[str], embedding: Sequence[float], k: int
    ) -> list[Candidate]:
        if not file_ids or k <= 0:
            return []
        stmt = text(
            "SELECT id, file_id, embedding <=> CAST(:q AS vector) AS d FROM chunk "
            "WHERE file_id IN :ids ORDER BY d LIMIT :k"
        ).bindparams(bindparam("ids", expanding=True))
        rows = (
            await session.execute(stmt, {"q": _vec(embedding), "ids": list(file_ids), "k": k})
        ).all()
        return [Candidate(r.id, r.file_id, 1.0 - float(r.d)) for r in rows]

    async def search_text(
        self, session: AsyncSession, file_ids: Sequence[str], query: str, k: int
    ) -> list[Candidate]:
        terms = query_terms(query)
        if not file_ids or not terms or k <= 0:
            return []
        stmt = text(
            "SELECT id, file_id, ts_rank(tsv, q) AS s "
            "FROM chunk, to_tsquery('english', :q) AS q "
            "WHERE tsv @@ q AND file_id IN :ids ORDER BY s DESC LIMIT :k"
        ).bindparams(bindparam("ids", expanding=True))
        rows = (
            await session.execute(stmt, {"q": " | ".join(terms), "ids": list(file_ids), "k": k})
        ).all()
        return [Candidate(r.id, r.file_id, float(r.s)) for r in rows]

    async def fetch(self, session: AsyncSession, chunk_ids: Sequence[int]) -> ChunkTexts:
        return await fetch_texts(session, chunk_ids)

    def scan(
        self, session: AsyncSession, file_ids: Sequence[str] | None = None
    ) -> AsyncIterator[list[ChunkRow]]:
        import numpy as np

        return scan_rows(
            session,
            "SELECT id, file_id, text, CAST(embedding AS text) AS e FROM chunk",
            file_ids,
            lambda literal: np.array(literal[1:-1].split(","), dtype=np.float32),
        )
