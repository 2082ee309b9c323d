"""The PostgreSQL engine: pgvector for vectors (exact or HNSW), BM25 over tsvectors for text."""

from __future__ import annotations

from wayline.vectors.pgvector.hnsw import hnsw_index_name, hnsw_index_sql, indexed_dimensions
from wayline.vectors.pgvector.index import PgVectorIndex

__all__ = ["PgVectorIndex", "hnsw_index_name", "hnsw_index_sql", "indexed_dimensions"]
