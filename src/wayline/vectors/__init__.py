"""Vector + full-text index engines, chosen by the database dialect (`VECTOR_DB` overrides)."""

from __future__ import annotations

from wayline.vectors.base import Hit, NewChunk, VectorIndex
from wayline.vectors.memory import MemoryIndex


def create_vector_index(vector_db: str, dialect: str, memory_max_chunks: int = 0) -> MemoryIndex:
    """The database's index, searched through an in-process copy when `memory_max_chunks` > 0
    (`memory.MemoryIndex`; writes are logged for every process's copy either way)."""
    return MemoryIndex(_database_index(vector_db, dialect), memory_max_chunks)


def _database_index(vector_db: str, dialect: str) -> VectorIndex:
    engine = (vector_db or "").lower() or ("pgvector" if dialect == "postgresql" else "sqlite-vec")
    if engine in ("sqlite-vec", "sqlite", "sqlite_vec"):
        if dialect != "sqlite":
            raise ValueError("VECTOR_DB=sqlite-vec needs a SQLite DATABASE_URL")
        from wayline.vectors.sqlite import SqliteVectorIndex

        return SqliteVectorIndex()
    if engine == "pgvector":
        if dialect != "postgresql":
            raise ValueError("VECTOR_DB=pgvector needs a PostgreSQL DATABASE_URL")
        from wayline.vectors.pgvector import PgVectorIndex

        return PgVectorIndex()
    raise ValueError(
        f"unsupported VECTOR_DB {vector_db!r}: chunks live in the main database "
        "(sqlite-vec or pgvector)"
    )


__all__ = ["Hit", "MemoryIndex", "NewChunk", "VectorIndex", "create_vector_index"]
