"""Vector index latency: insert and top-10 query at 10k and 100k chunks (384-d, as MiniLM).

    python bench/vectors.py [--database-url postgresql://...]

Uses the real migrations and `VectorIndex` (SQLite + sqlite-vec brute force by default).
Queries are scoped like real ones: one file (1,000 chunks), a 10-file collection, and every file.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from sqlalchemy import text

from wayline.core.db import Database
from wayline.core.settings import Settings
from wayline.vectors import NewChunk, create_vector_index

DIM, PER_FILE = 384, 1000


async def run(url: str, sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            DATA_DIR=Path(tmp),
            DATABASE_URL=url or f"sqlite:///{tmp}/v.db",
            WEBUI_SECRET_KEY="x" * 40,
        )
        db = Database(settings)
        await db.migrate()
        index = create_vector_index("", db.dialect)
        rng = np.random.default_rng(0)
        async with db.sessionmaker() as s:
            await s.execute(
                text(
                    'INSERT INTO "user" (id, email, name, role, profile_image_url, password_hash, '
                    "token_epoch, created_at, updated_at, last_active_at) "
                    "VALUES ('u', 'u@x', 'u', 'user', '', '', 0, 0, 0, 0)"
                )
            )
            await s.commit()
        print(
            f"engine {getattr(index, 'engine', '?')} ({db.dialect}), {DIM}-d float32, "
            f"{PER_FILE} chunks per file"
        )
        files: list[str] = []
        for target in sizes:
            start = time.perf_counter()
            added = 0
            while len(files) * PER_FILE < target:
                fid = f"f{len(files):05d}"
                vecs = rng.standard_normal((PER_FILE, DIM)).astype(np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                async with db.sessionmaker() as s:
                    await s.execute(
                        text(
                            "INSERT INTO file (id, user_id, file_hash, filename, path, meta, data, "
                            "status, progress_done, progress_total, created_at, updated_at) VALUES "
                            "(:i, 'u', '', :n, '', '{}', '{}', 'completed', 0, 0, 0, 0)"
                        ),
                        {"i": fid, "n": fid},
                    )
                    await index.add_chunks(
                        s,
                        fid,
                        [
                            NewChunk(i, f"chunk {i} of {fid} lift drag wing", {}, v)
                            for i, v in enumerate(vecs)
                        ],
                    )
                    await s.commit()
                files.append(fid)
                added += PER_FILE
            took = time.perf_counter() - start
            print(
                f"{target:>7} chunks: inserted {added} in {took:.1f} s "
                f"({added / took:,.0f}/s, one transaction per file)"
            )
            for label, scope in (
                ("1 file", files[:1]),
                ("10 files", files[:10]),
                (f"all {len(files)} files", files),
            ):
                times = []
                for _ in range(10):
                    q = rng.standard_normal(DIM).astype(np.float32)
                    q /= np.linalg.norm(q)
                    async with db.sessionmaker() as s:
                        t0 = time.perf_counter()
                        hits = await index.search(s, scope, q, 10)
                        times.append((time.perf_counter() - t0) * 1000)
                    assert len(hits) == 10
                times_t = []
                for _ in range(10):
                    async with db.sessionmaker() as s:
                        t0 = time.perf_counter()
                        await index.search_text(s, scope, "lift of a wing", 10)
                        times_t.append((time.perf_counter() - t0) * 1000)
                print(
                    f"    top-10 over {label:>14}: vector {statistics.median(times):7.1f} ms, "
                    f"BM25 {statistics.median(times_t):7.1f} ms (median of 10)"
                )
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="")
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    asyncio.run(run(args.database_url, [int(x) for x in args.sizes.split(",")]))


if __name__ == "__main__":
    main()
