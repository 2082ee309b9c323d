"""Vector search in the database (the SQL path, the in-memory copy off), on SQLite and PostgreSQL.

On every engine: the nearest chunks of a scope are the true nearest (NumPy brute force), and a
chunk outside the scope is never returned, even when it is the nearest of all. On PostgreSQL
the approximate path is forced (`exact_max_chunks=0`) and checked to have answered: HNSW
(vectors/pgvector/) with an iterative scan, whose results match exact search, and which keeps
the collection filter even with the smallest candidate list. Vectors go in and come back
bit-exact (pgvector's binary codec on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event, text

from wayline.core.db import Database
from wayline.core.settings import Settings
from wayline.vectors import NewChunk, create_vector_index
from wayline.vectors.base import Candidate, VectorIndex
from wayline.vectors.pgvector import (
    PgVectorIndex,
    hnsw_index_name,
    hnsw_index_sql,
    indexed_dimensions,
)

DIM = 384


@pytest.fixture
async def db(database_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(
        Settings(DATA_DIR=tmp_path / "data", DATABASE_URL=database_url, WEBUI_SECRET_KEY="x" * 40)
    )
    await database.migrate()
    async with database.write() as s:
        for user in ("alice", "bob"):
            await s.execute(
                text(
                    'INSERT INTO "user" (id, email, name, role, profile_image_url, '
                    "password_hash, token_epoch, created_at, updated_at, last_active_at) "
                    "VALUES (:u, :email, :u, 'user', '', '', 0, 0, 0, 0)"
                ),
                {"u": user, "email": f"{user}@example.com"},
            )
    yield database
    await database.dispose()


def engine_index(db: Database, **pg: Any) -> VectorIndex:
    """The database's own index (no in-memory copy); on PostgreSQL with `pg` options."""
    if db.dialect == "postgresql":
        return PgVectorIndex(**pg)
    index: VectorIndex = create_vector_index("", db.dialect, 0).inner
    return index


def unit(rows: Any) -> Any:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


async def add_file(db: Database, index: VectorIndex, owner: str, vectors: Any) -> str:
    file_id = str(uuid.uuid4())
    async with db.write() as s:
        await s.execute(
            text(
                "INSERT INTO file (id, user_id, file_hash, filename, path, meta, data, status, "
                "progress_done, progress_total, created_at, updated_at) VALUES "
                "(:id, :u, '', 'f.txt', 'f', '{}', '{}', 'completed', 0, 0, 0, 0)"
            ),
            {"id": file_id, "u": owner},
        )
        await index.add_chunks(
            s, file_id, [NewChunk(i, f"chunk {i}", {}, v) for i, v in enumerate(vectors)]
        )
    return file_id


class Spy:
    """Wraps PgVectorIndex._search_hnsw: what the approximate path itself returned."""

    def __init__(self, index: PgVectorIndex, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answers: list[list[Candidate]] = []
        real = index._search_hnsw

        async def spy(*args: Any) -> list[Candidate]:
            found = await real(*args)
            self.answers.append(found)
            return found

        monkeypatch.setattr(index, "_search_hnsw", spy)


def exact_top(vectors: dict[int, Any], query: Any, k: int) -> list[int]:
    ids = list(vectors)
    scores = np.stack([vectors[i] for i in ids]) @ query
    return [ids[i] for i in np.argsort(-scores, kind="stable")[:k]]


async def chunk_vectors(db: Database, file_ids: list[str]) -> dict[int, Any]:
    index = engine_index(db)
    async with db.sessionmaker() as s:
        return {
            row.chunk_id: row.vector
            for batch in [b async for b in index.scan(s, file_ids)]
            for row in batch
        }


async def test_a_large_scope_answers_as_exact_search(db: Database, monkeypatch) -> None:
    rng = np.random.default_rng(1)
    centres = unit(rng.standard_normal((4, DIM)))
    index = engine_index(db, exact_max_chunks=0, ef_search=200)  # PostgreSQL: HNSW forced
    scope = [
        await add_file(db, index, "alice", unit(c + 0.3 * rng.standard_normal((60, DIM))))
        for c in centres
    ]
    vectors = await chunk_vectors(db, scope)
    spy = Spy(index, monkeypatch) if isinstance(index, PgVectorIndex) else None
    async with db.sessionmaker() as s:
        for c in centres:
            query = unit(c + 0.3 * rng.standard_normal(DIM))
            found = await index.search(s, scope, list(query), 10)
            assert [f.chunk_id for f in found] == exact_top(vectors, query, 10)
            assert found[0].score == pytest.approx(float(vectors[found[0].chunk_id] @ query), 1e-5)
    if spy is not None:  # PostgreSQL: each answer came from the index, none from the fallback
        assert len(spy.answers) == 4 and all(len(a) == 10 for a in spy.answers)


async def test_a_chunk_outside_the_scope_is_never_returned(db: Database, monkeypatch) -> None:
    """Bob's chunks are the nearest of all to the query; Alice's collection must not see them,
    even with the smallest HNSW candidate list (the iterative scan walks on past them)."""
    rng = np.random.default_rng(2)
    query = unit(rng.standard_normal(DIM))
    index = engine_index(db, exact_max_chunks=0, ef_search=1)
    for _ in range(3):  # 150 chunks right at the query, outside the scope
        await add_file(db, index, "bob", unit(query + 0.01 * rng.standard_normal((50, DIM))))
    scope = [
        await add_file(db, index, "alice", unit(rng.standard_normal((40, DIM)))) for _ in range(2)
    ]
    vectors = await chunk_vectors(db, scope)
    spy = Spy(index, monkeypatch) if isinstance(index, PgVectorIndex) else None
    async with db.sessionmaker() as s:
        found = await index.search(s, scope, list(query), 10)
    assert {f.file_id for f in found} <= set(scope)
    assert len(found) == 10
    assert set(f.chunk_id for f in found) == set(exact_top(vectors, query, 10))
    if spy is not None:
        (answer,) = spy.answers
        assert answer and {c.file_id for c in answer} <= set(scope)


async def test_small_scopes_are_searched_exactly(db: Database, monkeypatch) -> None:
    """At or under `exact_max_chunks` the approximate path is not taken (PostgreSQL); the answer
    is exact on every engine."""
    rng = np.random.default_rng(3)
    index = engine_index(db, exact_max_chunks=100)
    scope = [await add_file(db, index, "alice", unit(rng.standard_normal((50, DIM))))]
    vectors = await chunk_vectors(db, scope)
    spy = Spy(index, monkeypatch) if isinstance(index, PgVectorIndex) else None
    query = unit(rng.standard_normal(DIM))
    async with db.sessionmaker() as s:
        found = await index.search(s, scope, list(query), 5)
    assert [f.chunk_id for f in found] == exact_top(vectors, query, 5)
    if spy is not None:
        assert spy.answers == []


async def test_vectors_round_trip_bit_exact(db: Database) -> None:
    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((3, DIM)).astype(np.float32) * np.float32(1e-3)
    vectors[0, :3] = [np.float32(0.1), np.float32(1 / 3), np.finfo(np.float32).tiny]
    index = engine_index(db)
    file_id = await add_file(db, index, "alice", vectors)
    stored = await chunk_vectors(db, [file_id])
    assert len(stored) == 3
    for got, sent in zip(stored.values(), vectors, strict=True):
        assert np.array_equal(np.asarray(got, dtype=np.float32), sent)
    if db.dialect == "postgresql":  # read back through the binary codec too
        from pgvector import Vector

        async with db.sessionmaker() as s:
            await index.search(s, [file_id], list(vectors[0]), 1)  # registers the codec
            values = (
                await s.execute(
                    text("SELECT embedding FROM chunk WHERE file_id = :f ORDER BY idx"),
                    {"f": file_id},
                )
            ).scalars()
            decoded = list(values)
        assert all(isinstance(v, Vector) for v in decoded)
        assert np.array_equal(np.stack([v.to_numpy() for v in decoded]), vectors)


async def test_a_new_dimension_gets_its_index_and_is_exact_until_then(
    db: Database, monkeypatch
) -> None:
    """An embedder of another dimension (here 16): searched exactly at once; on PostgreSQL its
    HNSW index is built in the background and used from then on."""
    rng = np.random.default_rng(5)
    index = engine_index(db, exact_max_chunks=0, ef_search=100)
    scope = [await add_file(db, index, "alice", unit(rng.standard_normal((80, 16))))]
    await _exact_now_and_indexed_once_built(db, index, scope, rng, monkeypatch)


async def test_an_index_left_invalid_by_a_dead_build_is_built_again(
    db: Database, monkeypatch
) -> None:
    """PostgreSQL: an HNSW index left invalid (a concurrent build that was interrupted; here
    marked so in the catalog) is not used: search stays exact while the index is dropped and
    built again in the background, and uses it from then on."""
    rng = np.random.default_rng(9)
    index = engine_index(db, exact_max_chunks=0, ef_search=100)
    scope = [await add_file(db, index, "alice", unit(rng.standard_normal((80, 16))))]
    if isinstance(index, PgVectorIndex):
        async with db.engine.connect() as conn:
            await conn.execute(text(hnsw_index_sql(16, concurrently=False)))
            await conn.execute(
                text(
                    "UPDATE pg_index SET indisvalid = false "
                    f"WHERE indexrelid = '{hnsw_index_name(16)}'::regclass"
                )
            )
            await conn.commit()
            assert 16 not in await indexed_dimensions(conn)
    await _exact_now_and_indexed_once_built(db, index, scope, rng, monkeypatch)


async def _exact_now_and_indexed_once_built(
    db: Database, index: Any, scope: list[str], rng: np.random.Generator, monkeypatch: Any
) -> None:
    """A 16-d search with no valid index is exact (the index is not used); on PostgreSQL, once
    the background build ends, the same search goes through the index and finds the same."""
    vectors = await chunk_vectors(db, scope)
    query = unit(rng.standard_normal(16))
    spy = Spy(index, monkeypatch) if isinstance(index, PgVectorIndex) else None
    async with db.sessionmaker() as s:
        found = await index.search(s, scope, list(query), 5)
    assert [f.chunk_id for f in found] == exact_top(vectors, query, 5)
    if isinstance(index, PgVectorIndex) and spy is not None:
        assert spy.answers == []  # no usable index yet: exact
        await index.hnsw.building[16]
        async with db.sessionmaker() as s:
            assert 16 in await indexed_dimensions(s)
            again = await index.search(s, scope, list(query), 5)
        assert [f.chunk_id for f in again] == [f.chunk_id for f in found]
        assert len(spy.answers) == 1 and len(spy.answers[0]) == 5


def _alembic(connection: Any, command: str, revision: str) -> None:
    from alembic import command as commands
    from alembic.config import Config

    from wayline.core.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    getattr(commands, command)(cfg, revision)


async def alembic(db: Database, command: str, revision: str) -> None:
    async with db.engine.connect() as conn:  # no transaction open: Alembic owns its own
        await conn.run_sync(_alembic, command, revision)
        await conn.commit()


async def hnsw_state(db: Database) -> tuple[str, set[int], str]:
    """(revision, dimensions with a valid HNSW index, the storage of the embedding and tsv
    columns: 'm' main, 'e' external, 'x' extended)."""
    async with db.engine.connect() as conn:
        revision = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        if db.dialect != "postgresql":
            return str(revision), set(), ""
        dimensions = await indexed_dimensions(conn)
        storage = (
            await conn.execute(
                text(
                    "SELECT string_agg(CAST(attstorage AS text), '' ORDER BY attname) "
                    "FROM pg_attribute WHERE attrelid = 'chunk'::regclass "
                    "AND attname IN ('embedding', 'tsv')"
                )
            )
        ).scalar()
    return str(revision), dimensions, str(storage)


async def test_the_hnsw_migration_downgrades_and_upgrades_again(db: Database) -> None:
    """0011 on a table holding chunks of two dimensions: an index for each (and the bundled
    384), made concurrently; the downgrade removes them; the upgrade makes them again. 0012
    keeps tsvectors in the row, and gives them back to TOAST on the way down."""
    rng = np.random.default_rng(6)
    index = engine_index(db)
    file_id = await add_file(db, index, "alice", unit(rng.standard_normal((5, 24))))
    pg = db.dialect == "postgresql"
    assert await hnsw_state(db) == ("0012_tsv_inline", {384} if pg else set(), "mm" if pg else "")

    await alembic(db, "downgrade", "0010_key_limits")
    assert await hnsw_state(db) == ("0010_key_limits", set(), "ex" if pg else "")
    await alembic(db, "upgrade", "head")
    assert await hnsw_state(db) == (
        "0012_tsv_inline",
        {24, 384} if pg else set(),
        "mm" if pg else "",
    )

    async with db.sessionmaker() as s:  # the data survived both ways
        assert await index.count(s, file_id) == 5


async def test_replicas_starting_together_migrate_once(database_url: str, tmp_path: Path) -> None:
    """Four replicas on one empty database: one migrates (0011 builds its index CONCURRENTLY,
    which waits for every older snapshot, so the others must wait for the lock without holding
    one), the others find it done. On SQLite (one host) they start one after another."""
    replicas = [
        Database(
            Settings(
                DATA_DIR=tmp_path / f"data{n}", DATABASE_URL=database_url, WEBUI_SECRET_KEY="x" * 40
            )
        )
        for n in range(4)
    ]
    try:
        if replicas[0].dialect == "postgresql":
            await asyncio.wait_for(asyncio.gather(*(r.migrate() for r in replicas)), 120)
        else:
            for replica in replicas:
                await replica.migrate()
        revision, dimensions, _ = await hnsw_state(replicas[0])
        assert revision == "0012_tsv_inline"
        assert dimensions == ({384} if replicas[0].dialect == "postgresql" else set())
    finally:
        for replica in replicas:
            await replica.dispose()


async def test_full_text_ranks_by_bm25_within_the_scope(db: Database) -> None:
    """Term frequency and rarity decide (BM25 on both engines; PostgreSQL computes it in SQL):
    the chunk with both query terms, the rare one twice, comes first; a chunk that has only the
    common term comes after one that has the rare term; Bob's chunk is never seen."""
    index = engine_index(db)
    vectors = unit(np.eye(8, DIM) + 0.1)  # (the vectors play no part here)
    common = "convoy " * 3

    async def add(owner: str, texts: list[str]) -> str:
        file_id = await add_file(db, index, owner, vectors[: len(texts)])
        async with db.write() as s:
            await index.delete_file(s, file_id)
            await index.add_chunks(
                s, file_id, [NewChunk(i, t, {}, vectors[i]) for i, t in enumerate(texts)]
            )
        return file_id

    scope = [
        await add(
            "alice",
            [
                f"{common} harbour lighthouse",  # the common term only
                "zebra zebra convoy",  # both, the rare one twice
                "the zebra crossed the harbour at noon",  # the rare term once
                f"{common} pier",
                f"{common} dock",
            ],
        )
    ]
    await add("bob", ["zebra zebra zebra zebra convoy convoy"])
    for n in range(8):  # "convoy" in most chunks of the database: a common term, a low idf
        await add("bob", [f"convoy number {n}{i}" for i in range(5)])
    async with db.sessionmaker() as s:
        found = await index.search_text(s, scope, "zebra convoy", 10)
        texts = await index.fetch(s, [f.chunk_id for f in found])
    ranked = [texts[f.chunk_id][0] for f in found]
    assert {f.file_id for f in found} == set(scope)
    assert ranked[0] == "zebra zebra convoy"
    assert ranked.index("the zebra crossed the harbour at noon") < ranked.index(
        f"{common} harbour lighthouse"
    )
    assert len(ranked) == 5 and all(a.score >= b.score > 0 for a, b in itertools.pairwise(found))


async def test_a_small_share_of_the_files_is_searched_exactly(db: Database, monkeypatch) -> None:
    """A scope over the size threshold but a small share of all files (1 of 6 here, under 20%):
    a filtered graph walk would mostly meet chunks outside it, so PostgreSQL searches exactly."""
    rng = np.random.default_rng(7)
    index = engine_index(db, exact_max_chunks=0, min_share=0.2)
    for _ in range(5):
        await add_file(db, index, "bob", unit(rng.standard_normal((20, DIM))))
    scope = [await add_file(db, index, "alice", unit(rng.standard_normal((20, DIM))))]
    vectors = await chunk_vectors(db, scope)
    spy = Spy(index, monkeypatch) if isinstance(index, PgVectorIndex) else None
    query = unit(rng.standard_normal(DIM))
    async with db.sessionmaker() as s:
        found = await index.search(s, scope, list(query), 5)
    assert [f.chunk_id for f in found] == exact_top(vectors, query, 5)
    if spy is not None:
        assert spy.answers == []


async def test_a_large_table_ranks_the_chunks_of_the_rarest_terms(db: Database) -> None:
    """In a large table PostgreSQL reads only a budget of candidates (here: from the first chunk,
    6 of them): the chunks of the query's rarest terms; when every term is common, the chunks
    holding all of them; then, when too few are in the scope, up to 6 of the scope's chunks
    with any term. SQLite (FTS5) ranks every chunk. On both, the best chunks come first and
    Bob's are never seen."""
    index = engine_index(db, prune_from=0, candidate_budget=6)
    vectors = unit(np.eye(8, DIM) + 0.1)  # (the vectors play no part here)
    texts = [
        "convoy harbour pier",  # every common term
        "convoy dock",
        "harbour lighthouse",
        "zebra crossing",
        "zebra zebra convoy",  # the rare term twice, and a common one
    ]
    scope = [await add_file(db, index, "alice", vectors[:1])]
    bob = await add_file(db, index, "bob", vectors[:1])
    async with db.write() as s:
        await index.delete_file(s, scope[0])
        await index.add_chunks(
            s, scope[0], [NewChunk(i, t, {}, vectors[0]) for i, t in enumerate(texts)]
        )
        await index.delete_file(s, bob)
        await index.add_chunks(
            s, bob, [NewChunk(i, f"convoy harbour zebra{i}", {}, vectors[0]) for i in range(10)]
        )

    async def ranked(query: str) -> list[str]:
        async with db.sessionmaker() as s:
            found = await index.search_text(s, scope, query, 10)
            chunks = await index.fetch(s, [f.chunk_id for f in found])
        assert {f.file_id for f in found} == set(scope)
        return [chunks[f.chunk_id][0] for f in found]

    rare = await ranked("zebra convoy")
    # ...then, as too few of Alice's chunks were candidates, hers with the common term only.
    assert rare[:2] == ["zebra zebra convoy", "zebra crossing"] and "convoy dock" in rare
    common = await ranked("convoy harbour")
    assert common[0] == "convoy harbour pier" and "harbour lighthouse" in common
    if isinstance(index, PgVectorIndex):  # what was read: the rare term; all common terms
        async with db.sessionmaker() as s:
            rare = await index.text_stats.plan(s, ["zebra", "convoy"], len(scope))
            both = await index.text_stats.plan(s, ["convoy", "harbour"], len(scope))
        assert rare is not None and rare.select == "zebra"
        assert both is not None and both.select == "harbour & convoy"


async def test_a_scope_far_over_the_threshold_is_not_counted(db: Database, monkeypatch) -> None:
    """PostgreSQL: a scope whose share of the files makes it several times the exact-search
    threshold goes to the index without counting its chunks first, and answers as exact."""
    rng = np.random.default_rng(11)
    index = engine_index(db, exact_max_chunks=4, ef_search=200)
    scope = [await add_file(db, index, "alice", unit(rng.standard_normal((40, DIM))))]
    vectors = await chunk_vectors(db, scope)
    spy = Spy(index, monkeypatch) if isinstance(index, PgVectorIndex) else None
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        query = unit(rng.standard_normal(DIM))
        async with db.sessionmaker() as s:
            found = await index.search(s, scope, list(query), 5)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert [f.chunk_id for f in found] == exact_top(vectors, query, 5)
    if spy is not None:
        assert len(spy.answers) == 1 and len(spy.answers[0]) == 5
        assert not [s for s in statements if "count(*) FROM (SELECT 1 FROM chunk" in s]


async def test_a_small_scope_of_a_large_table_matches_all_its_chunks(db: Database) -> None:
    """The table's rarest term is in none of Alice's chunks: her one file (of six, an estimated
    9 chunks, within the budget of 10 candidates) is searched for every term through its own
    chunks, so her chunks with the common term are found."""
    index = engine_index(db, prune_from=20, candidate_budget=10)
    vectors = unit(np.eye(8, DIM) + 0.1)
    bobs = [await add_file(db, index, "bob", vectors[:1]) for _ in range(5)]
    scope = [await add_file(db, index, "alice", vectors[:1])]
    async with db.write() as s:
        for n, file_id in enumerate(bobs):
            await index.delete_file(s, file_id)
            texts = [f"convoy {n} {i}" for i in range(10)] + (["zebra"] if n == 0 else [])
            await index.add_chunks(
                s, file_id, [NewChunk(i, t, {}, vectors[0]) for i, t in enumerate(texts)]
            )
        await index.delete_file(s, scope[0])
        mine = ["convoy at dawn", "a quiet harbour", "convoy convoy"]
        await index.add_chunks(
            s, scope[0], [NewChunk(i, t, {}, vectors[0]) for i, t in enumerate(mine)]
        )
    async with db.sessionmaker() as s:
        found = await index.search_text(s, scope, "zebra convoy", 10)
        texts = await index.fetch(s, [f.chunk_id for f in found])
    assert [texts[f.chunk_id][0] for f in found] == ["convoy convoy", "convoy at dawn"]
    if isinstance(index, PgVectorIndex):  # the same query over every file is pruned
        async with db.sessionmaker() as s:
            wide = await index.text_stats.plan(s, ["zebra", "convoy"], 6)
            narrow = await index.text_stats.plan(s, ["zebra", "convoy"], 1)
        assert wide is not None and wide.select == "zebra" and not wide.scope_first
        assert narrow is not None and narrow.scope_first and narrow.cap is None
