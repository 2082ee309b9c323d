"""Latency of a hybrid query scoped to a large collection: the in-memory index vs the database.

    python bench/scoped_search.py [--database-url postgresql://...] [--shapes 5000x3,1000x100]

For each shape FILESxCHUNKS (default: 5,000 files of 3 chunks, like SciFact's 5,183 abstracts,
and 1,000 files of 100 chunks = 100k chunks), synthetic chunks (Zipf-distributed words from a
20k-word vocabulary, random unit 384-d vectors) are written through the real migrations and
`VectorIndex`, all files form one scope, and 200 queries of 2-8 words run through
`HybridSearch` with default settings at k=3 and k=10, the query vector already cached (so this
is the search alone: the embedding is measured by bench/embedder.py). Two searches side by side:

- memory:   the in-process copy (`vectors.memory`, the default)
- database: the same search in SQL (VECTOR_MEMORY_MAX_CHUNKS=0: sqlite-vec / pgvector + FTS)

Also the time to load the copy in full (a process start).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from sqlalchemy import text

from wayline.core.db import Database
from wayline.core.settings import Settings
from wayline.retrieval.search import HybridSearch, SearchParams
from wayline.vectors import NewChunk, create_vector_index

DIM, VOCABULARY, QUERIES = 384, 20_000, 200


class FixedEmbedder:
    """Query vectors drawn once per text (the cache then holds them, as after a first ask)."""

    name, engine, dimensions = "bench", "local", DIM

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    async def embed_query(self, text: str) -> list[float]:
        vector = self.rng.standard_normal(DIM).astype(np.float32)
        return list(vector / np.linalg.norm(vector))

    async def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [await self.embed_query(t) for t in texts]


def words(rng: np.random.Generator, n: int) -> str:
    ranks = np.minimum(rng.zipf(1.2, n), VOCABULARY)
    return " ".join(f"w{r}" for r in ranks)


async def fill(db: Database, files: int, per_file: int, rng: np.random.Generator) -> list[str]:
    index = create_vector_index("", db.dialect)
    async with db.sessionmaker() as s:
        await s.execute(
            text(
                'INSERT INTO "user" (id, email, name, role, profile_image_url, password_hash, '
                "token_epoch, created_at, updated_at, last_active_at) "
                "VALUES ('u', 'u@x', 'u', 'user', '', '', 0, 0, 0, 0)"
            )
        )
        await s.commit()
    ids = [str(uuid.uuid4()) for _ in range(files)]
    for start in range(0, files, 200):
        async with db.write() as s:
            for file_id in ids[start : start + 200]:
                await s.execute(
                    text(
                        "INSERT INTO file (id, user_id, file_hash, filename, path, meta, data, "
                        "status, progress_done, progress_total, created_at, updated_at) VALUES "
                        "(:id, 'u', '', 'f.txt', 'f', '{}', '{}', 'completed', 0, 0, 0, 0)"
                    ),
                    {"id": file_id},
                )
                vectors = rng.standard_normal((per_file, DIM)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                await index.add_chunks(
                    s,
                    file_id,
                    [NewChunk(i, words(rng, 150), {}, vectors[i]) for i in range(per_file)],
                )
    return ids


async def timed(search: HybridSearch, db: Database, ids: list[str], queries: list[str], k: int):
    params = SearchParams(k=k)
    out = []
    async with db.sessionmaker() as session:
        for query in queries:
            await search.queries.get(query)  # the vector cached: time the search alone
            t0 = time.perf_counter()
            results = await search.search(session, ids, query, params)
            out.append((time.perf_counter() - t0) * 1000)
            assert results, query
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def run(url: str, shapes: list[tuple[int, int]]) -> None:
    for files, per_file in shapes:
        with tempfile.TemporaryDirectory() as tmp:
            database_url = url or f"sqlite:///{tmp}/bench.db"
            if url:  # a fresh database per shape
                await recreate(url)
            db = Database(
                Settings(DATA_DIR=Path(tmp), DATABASE_URL=database_url, WEBUI_SECRET_KEY="x" * 40)
            )
            await db.migrate()
            rng = np.random.default_rng(0)
            t0 = time.perf_counter()
            ids = await fill(db, files, per_file, rng)
            print(
                f"\n{db.dialect}: {files} files x {per_file} chunks = {files * per_file} chunks "
                f"(written in {time.perf_counter() - t0:.0f} s), one scope of every file"
            )
            queries = [words(rng, int(rng.integers(2, 9))) for _ in range(QUERIES)]
            embedder = FixedEmbedder(rng)
            memory_index = create_vector_index("", db.dialect, 10_000_000)
            t0 = time.perf_counter()
            await memory_index.warm(db.sessionmaker)
            print(f"in-memory copy loaded in {time.perf_counter() - t0:.1f} s")
            searches = {
                "memory": HybridSearch(memory_index, embedder),
                "database": HybridSearch(create_vector_index("", db.dialect, 0), embedder),
            }
            for k in (3, 10):
                figures = {
                    name: await timed(search, db, ids, queries, k)
                    for name, search in searches.items()
                }
                mem, sql = figures["memory"], figures["database"]
                print(
                    f"k={k:<3} memory p50 {pct(mem, 0.5):6.1f} ms p95 {pct(mem, 0.95):6.1f} ms | "
                    f"database p50 {pct(sql, 0.5):7.1f} ms p95 {pct(sql, 0.95):7.1f} ms | "
                    f"memory/database {statistics.median(mem) / statistics.median(sql):.3f}x"
                )
            await db.engine.dispose()


async def recreate(url: str) -> None:
    """Drop and create the public schema (a throwaway PostgreSQL only)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="", help="a throwaway PostgreSQL (wiped)")
    parser.add_argument("--shapes", default="5000x3,1000x100")
    args = parser.parse_args()
    shapes = [tuple(int(n) for n in s.split("x")) for s in args.shapes.split(",")]
    asyncio.run(run(args.database_url, shapes))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
