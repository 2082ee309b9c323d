"""Retrieval at 100k and 1M chunks on pgvector: HNSW vs exact, and the embedded engine at 100k.

    PGV_OPTS="-c shared_buffers=8GB" scripts/pgvector-server start 55432 /tmp/pgscale
    python bench/pgvector_scale.py --database-url postgresql://postgres@127.0.0.1:55432/postgres
        [--sizes 100000,1000000] [--per-file 100] [--queries 100] [--reuse] [--skip-sqlite]

For each size, a database `wl_scale_<size>` (dropped and made again unless `--reuse` finds it
built) gets the real migrations, then one collection: files of `--per-file` chunks, 384-d unit
vectors drawn around 2,000 topic centres (a file keeps to one topic, so nearest neighbours are
clustered and ANN is not trivial), 60 Zipf-distributed words of text each. One file in 20
belongs to another user and is left out of the scope, so the collection filter matters.
Chunks go in with binary COPY (the pgvector codec) without the HNSW index, which is built
after (`build`: COPY + index). Then, through `PgVectorIndex` and `HybridSearch` (default
settings, the in-memory copy off so SQL answers), with query vectors near random centres:

- dense k=10: exact vs HNSW (ef_search sweep), p50 and recall@10 against exact;
- full text alone (k=50, as the hybrid query asks for it);
- hybrid k=10 (`HybridSearch`, candidate pool 50, the two lists at once on two connections):
  HNSW vs exact, p50 and recall@10 against the hybrid answer with exact vectors;
- the crossover: scopes of growing size, exact vs HNSW p50 (where EXACT_MAX_CHUNKS comes from).

Also insert throughput through `add_chunks` (files of 100 chunks), binary codec vs the text
literals used before, and the embedded engine (SQLite + the in-memory copy) at 100k chunks.
`--database-url` must be a throwaway server: databases named `wl_scale_*` are dropped there.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core.db import Database
from wayline.core.settings import Settings
from wayline.retrieval.search import HybridSearch, SearchParams
from wayline.vectors import NewChunk, create_vector_index
from wayline.vectors.base import Candidate
from wayline.vectors.pgvector import PgVectorIndex, hnsw_index_name, hnsw_index_sql

DIM, CENTRES, VOCABULARY, WORDS, K = 384, 2000, 20_000, 60, 10
# A chunk: its file's topic centre + a point of a 24-d latent space (shared by all topics,
# projected into 384-d) + a little isotropic noise. Like real embeddings, the data has a low
# intrinsic dimension; pure 384-d gaussian blobs would make every neighbour nearly equidistant.
LATENT, SPREAD, NOISE = 24, 0.15, 0.01


class Corpus:
    """Deterministic synthetic chunks: file f's chunks, and query vectors/texts."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        centres = rng.standard_normal((CENTRES, DIM)).astype(np.float32)
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        self.projection = rng.standard_normal((LATENT, DIM)).astype(np.float32)
        self.projection /= np.linalg.norm(self.projection, axis=1, keepdims=True)

    def around(self, rng: np.random.Generator, topic: int, n: int) -> Any:
        latent = rng.standard_normal((n, LATENT)).astype(np.float32)
        vectors = self.centres[topic] + SPREAD * latent @ self.projection
        vectors += NOISE * rng.standard_normal((n, DIM)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def file(self, f: int, n: int) -> tuple[Any, list[str]]:
        rng = np.random.default_rng(1_000_003 + f)
        vectors = self.around(rng, f % CENTRES, n)
        return vectors, [words(rng, WORDS, f % CENTRES) for _ in range(n)]

    def queries(self, n: int) -> list[tuple[str, Any]]:
        rng = np.random.default_rng(7)
        out = []
        for q in range(n):
            topic = int(rng.integers(CENTRES))
            vector = self.around(rng, topic, 1)[0]
            out.append((f"{words(rng, int(rng.integers(2, 6)), topic)} q{q}", vector))
        return out


def words(rng: np.random.Generator, n: int, topic: int) -> str:
    ranks = np.minimum(rng.zipf(1.3, n), VOCABULARY)
    # A few topic words, so a query's words and its vector point at the same files.
    return " ".join([f"w{r}" for r in ranks] + [f"t{topic}x{i}" for i in range(2)])


class VectorsOf:
    """The `Embedder` `HybridSearch` asks for query vectors: here, the corpus's query vectors."""

    name, engine, dimensions = "bench", "local", DIM

    def __init__(self, queries: list[tuple[str, Any]]) -> None:
        self.vectors = {q: list(map(float, v)) for q, v in queries}

    async def embed_query(self, text: str) -> list[float]:
        return self.vectors[text]

    async def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.vectors[t] for t in texts]


# --- building --------------------------------------------------------------------------------
def database(url: str, name: str) -> str:
    return f"{url.rpartition('/')[0]}/{name}"


async def admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def exists(url: str, name: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


def settings_for(url: str, tmp: str) -> Settings:
    return Settings(DATA_DIR=Path(tmp), DATABASE_URL=url, WEBUI_SECRET_KEY="x" * 40)


async def add_users_and_files(db: Database, files: int) -> list[str]:
    """File rows (the chunks' foreign key); returns the ids of the scope (the first user's)."""
    ids = [str(uuid.UUID(int=f + 1)) for f in range(files)]
    async with db.write() as s:
        for user in ("u", "other"):
            await s.execute(
                text(
                    'INSERT INTO "user" (id, email, name, role, profile_image_url, '
                    "password_hash, token_epoch, created_at, updated_at, last_active_at) "
                    "VALUES (:u, :email, :u, 'user', '', '', 0, 0, 0, 0)"
                ),
                {"u": user, "email": f"{user}@x"},
            )
        await s.execute(
            text(
                "INSERT INTO file (id, user_id, file_hash, filename, path, meta, data, status, "
                "progress_done, progress_total, created_at, updated_at) "
                "SELECT id, CASE WHEN n % 20 = 19 THEN 'other' ELSE 'u' END, '', 'f.txt', 'f', "
                "'{}', '{}', 'completed', 0, 0, 0, 0 FROM unnest(CAST(:ids AS text[])) "
                "WITH ORDINALITY AS t(id, n)"
            ),
            {"ids": ids},
        )
    return [file_id for n, file_id in enumerate(ids, start=1) if n % 20 != 19]


async def build(url: str, size: int, per_file: int, corpus: Corpus) -> dict[str, float]:
    """A fresh `wl_scale_<size>` with `size` chunks; timings of COPY and the HNSW build."""
    import asyncpg
    from pgvector.asyncpg import register_vector

    name = f"wl_scale_{size}"
    await admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin(url, f'CREATE DATABASE "{name}"')
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(settings_for(database(url, name), tmp))
        await db.migrate()
        files = size // per_file
        await add_users_and_files(db, files)
        await db.dispose()
    conn = await asyncpg.connect(database(url, name))
    try:
        await register_vector(conn)
        await conn.execute(f"DROP INDEX {hnsw_index_name(DIM)}")  # built after the load
        ids = [str(uuid.UUID(int=f + 1)) for f in range(files)]
        t0 = time.perf_counter()
        batch: list[tuple[Any, ...]] = []
        for f, file_id in enumerate(ids):
            vectors, texts = corpus.file(f, per_file)
            batch.extend((file_id, i, texts[i], "{}", vectors[i]) for i in range(per_file))
            if len(batch) >= 20_000 or f == files - 1:
                await conn.copy_records_to_table(
                    "chunk", records=batch, columns=["file_id", "idx", "text", "meta", "embedding"]
                )
                batch = []
                done = (f + 1) * per_file
                if done % 200_000 < per_file * 200:
                    print(f"  copied {done} chunks ({time.perf_counter() - t0:.0f} s)", flush=True)
        copied = time.perf_counter() - t0
        await conn.execute("ANALYZE chunk")
        await conn.execute("SET maintenance_work_mem = '8GB'")
        await conn.execute("SET max_parallel_maintenance_workers = 1")
        t0 = time.perf_counter()
        await conn.execute(hnsw_index_sql(DIM, concurrently=False))
        indexed = time.perf_counter() - t0
        await conn.execute("ANALYZE chunk")
        await conn.execute("CREATE TABLE bench_built (size int, copy_s float, index_s float)")
        await conn.execute("INSERT INTO bench_built VALUES ($1, $2, $3)", size, copied, indexed)
    finally:
        await conn.close()
    return {"copy_s": copied, "index_s": indexed}


async def built(url: str, size: int) -> dict[str, float] | None:
    import asyncpg

    name = f"wl_scale_{size}"
    if not await exists(url, name):
        return None
    conn = await asyncpg.connect(database(url, name))
    try:
        row = await conn.fetchrow(
            "SELECT copy_s, index_s FROM bench_built WHERE to_regclass('bench_built') IS NOT NULL"
        )
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()
    return dict(row) if row else None


# --- measuring -------------------------------------------------------------------------------
def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def timed(
    session: AsyncSession,
    queries: list[tuple[str, Any]],
    search: Callable[[str, Any], Awaitable[list[int]]],
) -> tuple[list[float], list[list[int]]]:
    times, answers = [], []
    await search(*queries[0])  # warm: prepared statements, index pages
    for query, vector in queries:
        t0 = time.perf_counter()
        answers.append(await search(query, vector))
        times.append((time.perf_counter() - t0) * 1000)
        await session.commit()  # each query its own transaction, as each request
    return times, answers


def recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return statistics.mean(
        len(set(f[:K]) & set(t[:K])) / max(1, min(K, len(t)))
        for f, t in zip(found, truth, strict=True)
    )


def ids_of(candidates: list[Candidate]) -> list[int]:
    return [c.chunk_id for c in candidates]


async def measure(
    url: str, size: int, per_file: int, corpus: Corpus, n_queries: int, efs: list[int]
) -> None:
    name = f"wl_scale_{size}"
    queries = corpus.queries(n_queries)
    embedder = VectorsOf(queries)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(settings_for(database(url, name), tmp))
        await db.migrate()
        async with db.sessionmaker() as s:
            scope = list(
                (
                    await s.execute(text("SELECT id FROM file WHERE user_id = 'u' ORDER BY id"))
                ).scalars()
            )
            in_scope = int(
                (
                    await s.execute(
                        text("SELECT count(*) FROM chunk WHERE file_id = ANY(:ids)"),
                        {"ids": scope},
                    )
                ).scalar_one()
            )
        print(f"  scope: {len(scope)} files, {in_scope} chunks (of {size})")
        exact = PgVectorIndex(exact_max_chunks=10**9)
        async with db.sessionmaker() as s:

            async def dense_exact(query: str, vector: Any) -> list[int]:
                return ids_of(await exact.search(s, scope, vector, K))

            t_exact, truth = await timed(s, queries, dense_exact)
            print(
                f"  dense  exact       p50 {pct(t_exact, 0.5):7.1f} ms  "
                f"p95 {pct(t_exact, 0.95):7.1f} ms"
            )
            for ef in efs:
                hnsw = PgVectorIndex(exact_max_chunks=0, ef_search=ef)

                async def dense_hnsw(
                    query: str, vector: Any, hnsw: PgVectorIndex = hnsw
                ) -> list[int]:
                    return ids_of(await hnsw.search(s, scope, vector, K))

                t_hnsw, found = await timed(s, queries, dense_hnsw)
                print(
                    f"  dense  hnsw ef={ef:<4} p50 {pct(t_hnsw, 0.5):7.1f} ms  p95 "
                    f"{pct(t_hnsw, 0.95):7.1f} ms  recall@10 {recall(found, truth):.3f}"
                )

            bm25 = PgVectorIndex()

            async def text_only(query: str, vector: Any) -> list[int]:
                return ids_of(await bm25.search_text(s, scope, query, 50))

            t_text, _ = await timed(s, queries, text_only)
            print(
                f"  full text (k=50)  p50 {pct(t_text, 0.5):7.1f} ms  "
                f"p95 {pct(t_text, 0.95):7.1f} ms"
            )

            hybrid: dict[str, tuple[list[float], list[list[int]]]] = {}
            for label, index in (("exact", exact), ("default", PgVectorIndex())):
                search = HybridSearch(
                    create_vector_index("", "postgresql", 0),
                    embedder,  # type: ignore[arg-type]
                    db.sessionmaker,
                )
                search.index.inner = index  # type: ignore[attr-defined]
                params = SearchParams(k=K)

                async def hybrid_query(
                    query: str,
                    vector: Any,
                    search: HybridSearch = search,
                    params: SearchParams = params,
                ) -> list[int]:
                    return [r.hit.chunk_id for r in await search.search(s, scope, query, params)]

                hybrid[label] = await timed(s, queries, hybrid_query)
            t_h, found_h = hybrid["default"]
            print(
                f"  hybrid (HNSW)     p50 {pct(t_h, 0.5):7.1f} ms  p95 {pct(t_h, 0.95):7.1f} ms  "
                f"recall@10 vs hybrid-exact {recall(found_h, hybrid['exact'][1]):.3f}"
            )
            t_e = hybrid["exact"][0]
            print(f"  hybrid (exact)    p50 {pct(t_e, 0.5):7.1f} ms  p95 {pct(t_e, 0.95):7.1f} ms")

            # Crossover: scopes of growing size (whole files from the start of the scope).
            for chunks in (2_000, 5_000, 10_000, 20_000, 50_000):
                if chunks >= in_scope:
                    break
                part = scope[: chunks // per_file]
                hnsw = PgVectorIndex(exact_max_chunks=0)

                async def small_exact(query: str, vector: Any, part: list[str] = part) -> list[int]:
                    return ids_of(await exact.search(s, part, vector, K))

                async def small_hnsw(
                    query: str, vector: Any, part: list[str] = part, hnsw: PgVectorIndex = hnsw
                ) -> list[int]:
                    return ids_of(await hnsw.search(s, part, vector, K))

                te, truth_part = await timed(s, queries[:40], small_exact)
                th, found_part = await timed(s, queries[:40], small_hnsw)
                print(
                    f"  scope {chunks:>6} chunks: exact p50 {pct(te, 0.5):6.1f} ms | hnsw p50 "
                    f"{pct(th, 0.5):6.1f} ms recall@10 {recall(found_part, truth_part):.3f}"
                )
        await db.dispose()


async def insert_throughput(url: str, corpus: Corpus, chunks: int = 20_000) -> None:
    """add_chunks in files of 100 chunks: the binary codec vs text literals (the code before)."""
    name = "wl_scale_insert"
    await admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin(url, f'CREATE DATABASE "{name}"')
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(settings_for(database(url, name), tmp))
        await db.migrate()
        ids = await add_users_and_files(db, 2 * chunks // 100)
        index = PgVectorIndex()

        async def as_text(s: AsyncSession, file_id: str, batch: list[NewChunk]) -> None:
            await s.execute(
                text(
                    "INSERT INTO chunk (file_id, idx, text, meta, embedding) "
                    "VALUES (:f, :i, :t, CAST(:m AS json), CAST(CAST(:e AS text) AS vector))"
                ),
                [
                    {
                        "f": file_id,
                        "i": c.idx,
                        "t": c.text,
                        "m": "{}",
                        "e": "[" + ",".join(repr(float(x)) for x in c.embedding) + "]",
                    }
                    for c in batch
                ],
            )

        ways: dict[str, Callable[[AsyncSession, str, list[NewChunk]], Awaitable[None]]] = {
            "text literals": as_text,
            "binary codec": index.add_chunks,
        }
        for hnsw in (False, True):
            async with db.write() as s:
                await s.execute(text("DELETE FROM chunk"))
                if not hnsw:
                    await s.execute(text(f"DROP INDEX IF EXISTS {hnsw_index_name(DIM)}"))
            if hnsw:
                async with db.engine.connect() as conn:
                    await conn.execute(text(hnsw_index_sql(DIM, concurrently=False)))
                    await conn.commit()
            for offset, (label, add) in enumerate(ways.items()):
                files = ids[offset * chunks // 100 : (offset + 1) * chunks // 100]
                t0 = time.perf_counter()
                for f, file_id in enumerate(files):
                    vectors, texts = corpus.file(f, 100)
                    async with db.write() as s:
                        await add(
                            s, file_id, [NewChunk(i, texts[i], {}, vectors[i]) for i in range(100)]
                        )
                rate = chunks / (time.perf_counter() - t0)
                print(
                    f"  {label:<14} {'with' if hnsw else 'without'} HNSW index: "
                    f"{rate:7.0f} chunks/s"
                )
        await db.dispose()
    await admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def embedded(size: int, per_file: int, corpus: Corpus, n_queries: int) -> None:
    """The same collection and hybrid query on SQLite with the in-memory copy (the default)."""
    queries = corpus.queries(n_queries)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(settings_for(f"sqlite:///{tmp}/scale.db", tmp))
        await db.migrate()
        index = create_vector_index("", db.dialect, 10_000_000)
        files = size // per_file
        async with db.write() as s:
            for user in ("u", "other"):
                await s.execute(
                    text(
                        'INSERT INTO "user" (id, email, name, role, profile_image_url, '
                        "password_hash, token_epoch, created_at, updated_at, last_active_at) "
                        "VALUES (:u, :email, :u, 'user', '', '', 0, 0, 0, 0)"
                    ),
                    {"u": user, "email": f"{user}@x"},
                )
        scope = []
        t0 = time.perf_counter()
        for f in range(files):
            file_id = str(uuid.UUID(int=f + 1))
            owner = "other" if (f + 1) % 20 == 19 else "u"
            if owner == "u":
                scope.append(file_id)
            vectors, texts = corpus.file(f, per_file)
            async with db.write() as s:
                await s.execute(
                    text(
                        "INSERT INTO file (id, user_id, file_hash, filename, path, meta, data, "
                        "status, progress_done, progress_total, created_at, updated_at) VALUES "
                        "(:id, :u, '', 'f.txt', 'f', '{}', '{}', 'completed', 0, 0, 0, 0)"
                    ),
                    {"id": file_id, "u": owner},
                )
                await index.add_chunks(
                    s, file_id, [NewChunk(i, texts[i], {}, vectors[i]) for i in range(per_file)]
                )
        written = time.perf_counter() - t0
        t0 = time.perf_counter()
        await index.warm(db.sessionmaker)
        loaded = time.perf_counter() - t0
        print(
            f"\nsqlite + in-memory copy, {size} chunks: written in {written:.0f} s, "
            f"copy loaded in {loaded:.1f} s"
        )
        search = HybridSearch(index, VectorsOf(queries))  # type: ignore[arg-type]
        params = SearchParams(k=K)
        async with db.sessionmaker() as s:

            async def hybrid_query(query: str, vector: Any) -> list[int]:
                return [r.hit.chunk_id for r in await search.search(s, scope, query, params)]

            t_h, _ = await timed(s, queries, hybrid_query)
            dense_times, _ = await timed(
                s, queries, lambda q, v: _ids(index.search(s, scope, v, K))
            )
        print(
            f"  hybrid p50 {pct(t_h, 0.5):6.1f} ms p95 {pct(t_h, 0.95):6.1f} ms "
            "(exact: recall 1.0) | "
            f"dense p50 {pct(dense_times, 0.5):6.1f} ms"
        )
        await db.dispose()


async def _ids(found: Awaitable[list[Candidate]]) -> list[int]:
    return ids_of(await found)


async def run(args: argparse.Namespace) -> None:
    corpus = Corpus()
    url = args.database_url
    sizes = [int(s) for s in args.sizes.split(",") if s]
    efs = [int(s) for s in args.ef.split(",")]
    if args.insert:
        print("insert throughput (add_chunks, files of 100 chunks, 384-d):")
        await insert_throughput(url, corpus)
    for size in sizes:
        print(f"\npgvector, one collection of {size} chunks ({args.per_file} per file)")
        times = await built(url, size) if args.reuse else None
        if times is None:
            times = await build(url, size, args.per_file, corpus)
        print(
            f"  build: COPY {times['copy_s']:.0f} s + HNSW index {times['index_s']:.0f} s "
            f"= {times['copy_s'] + times['index_s']:.0f} s"
        )
        if not args.build_only:
            await measure(url, size, args.per_file, corpus, args.queries, efs)
    if not args.skip_sqlite:
        await embedded(100_000, args.per_file, corpus, args.queries)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True, help="a throwaway PostgreSQL")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--per-file", type=int, default=100)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--ef", default="40,100,200,400", help="hnsw.ef_search values to try")
    parser.add_argument("--reuse", action="store_true", help="keep databases already built")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--insert", action="store_true", help="also measure insert throughput")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
