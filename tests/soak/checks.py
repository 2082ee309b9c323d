"""End-of-run invariants: every acknowledged upload settled, nothing orphaned, nothing mixed up.

- Through the API (as each file's owner): an acknowledged upload exists and ends
  `completed` (text) or `failed` with a non-empty `error` (binary), within a bounded wait;
  a file whose delete was acknowledged is 404; a file's text is its last acknowledged update.
- In the database itself (SQLite file or PostgreSQL): no chunk, collection link or FTS
  entry without its file; no `completed` file without chunks and no chunks on a file that
  is not `completed`; no stored text of one user holding another user's canary.
- On disk: every file row has its blob and every blob has its row.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tests.soak.metrics import Metrics, clip
from tests.soak.workload import CANARY, SimUser, Upload, World

DONE = ("completed", "failed")

# Each query counts rows that must not exist.
ORPHAN_QUERIES = {
    "chunks whose file row is gone": (
        "SELECT count(*) FROM chunk c "
        "WHERE NOT EXISTS (SELECT 1 FROM file f WHERE f.id = c.file_id)"
    ),
    "collection links whose file row is gone": (
        "SELECT count(*) FROM knowledge_file k "
        "WHERE NOT EXISTS (SELECT 1 FROM file f WHERE f.id = k.file_id)"
    ),
    "collection links whose collection is gone": (
        "SELECT count(*) FROM knowledge_file k "
        "WHERE NOT EXISTS (SELECT 1 FROM knowledge n WHERE n.id = k.knowledge_id)"
    ),
    "completed files without chunks": (
        "SELECT count(*) FROM file f WHERE f.status = 'completed' "
        "AND NOT EXISTS (SELECT 1 FROM chunk c WHERE c.file_id = f.id)"
    ),
    "chunks of files that are not completed": (
        "SELECT count(*) FROM chunk c JOIN file f ON f.id = c.file_id WHERE f.status <> 'completed'"
    ),
    "failed files without an error": (
        "SELECT count(*) FROM file f "
        "WHERE f.status = 'failed' AND (f.error IS NULL OR f.error = '')"
    ),
}
SQLITE_ONLY = {
    # Every chunk_fts row must match its chunk (external-content FTS5, kept by triggers).
    "FTS index out of step with chunks": (
        "INSERT INTO chunk_fts(chunk_fts) VALUES ('integrity-check')"
    ),
}


async def settle_uploads(world: World, seconds: float) -> None:
    """Poll every acknowledged upload, as its owner, until it is done or `seconds` pass."""
    deadline = time.monotonic() + seconds
    gate = asyncio.Semaphore(16)
    users = {u.index: u for u in world.users}

    async def one(upload: Upload) -> None:
        owner = users[upload.owner]
        async with gate:
            if upload.deleted:
                await owner.call(
                    "final_deleted_get", "GET", f"/api/v1/files/{upload.id}", expect=(404,)
                )
                return
            while True:
                resp = await owner.call(
                    "final_status", "GET", f"/api/v1/files/{upload.id}/process/status"
                )
                if resp is None or resp.status_code != 200:
                    if resp is not None and resp.status_code == 404:
                        world.metrics.fail(
                            "lost",
                            "final_status",
                            f"acknowledged upload {upload.id} of user {upload.owner} is gone",
                        )
                    return
                state = resp.json()
                if state["status"] in DONE or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            if upload.edited is not None and state["status"] == "completed":
                await check_last_edit(world.metrics, owner, upload)
        check_outcome(world.metrics, upload, state)

    await asyncio.gather(*(one(u) for u in list(world.uploads.values())))


async def check_last_edit(metrics: Metrics, owner: SimUser, upload: Upload) -> None:
    """An acknowledged content update must not be overwritten later (e.g. by the upload's own,
    older job)."""
    resp = await owner.call("final_content", "GET", f"/api/v1/files/{upload.id}/data/content")
    if resp is None or resp.status_code != 200:
        return
    content = resp.json().get("content") or ""
    if content != upload.edited:
        metrics.fail(
            "lost",
            "final_content",
            f"upload {upload.id} of user {upload.owner}: its acknowledged "
            f"content update was replaced by {clip(content)}",
        )


def check_outcome(metrics: Metrics, upload: Upload, state: dict[str, Any]) -> None:
    where = f"upload {upload.id} of user {upload.owner}"
    status, error = state.get("status"), state.get("error")
    if status not in DONE:
        metrics.fail("stuck", "final_status", f"{where} still {state} after the settle wait")
    elif status == "failed" and not (error or "").strip():
        metrics.fail("failed_without_error", "final_status", f"{where}: {state}")
    elif status == "failed" and upload.readable:
        metrics.fail(
            "ingest_failed",
            "final_status",
            f"{where} (a valid text file) failed: {clip(error or '')}",
        )
    elif status == "completed" and not upload.readable:
        metrics.fail(
            "unexpected_outcome", "final_status", f"{where} (binary bytes) ended completed"
        )


def check_database(metrics: Metrics, world: World, database_url: str) -> dict[str, int]:
    """Run the orphan counts and the stored-canary scan; returns each count for the report."""
    counts: dict[str, int] = {}
    owner_canary = {u.user_id: u.canary for u in world.users}
    with connect(database_url) as (conn, dialect):
        queries = dict(ORPHAN_QUERIES)
        for name, sql in queries.items():
            counts[name] = int(conn.execute(sql).fetchone()[0])
            if counts[name]:
                metrics.fail("orphan", "database", f"{name}: {counts[name]}")
        if dialect == "sqlite":
            for name, sql in SQLITE_ONLY.items():
                try:
                    conn.execute(sql)
                    counts[name] = 0
                except Exception as exc:
                    counts[name] = 1
                    metrics.fail("orphan", "database", f"{name}: {exc}")
            violations = conn.execute("PRAGMA foreign_key_check").fetchall()
            counts["foreign key violations"] = len(violations)
            if violations:
                metrics.fail("orphan", "database", f"foreign key violations: {violations[:20]}")
        rows = conn.execute(
            "SELECT f.id, f.user_id, f.filename, f.content, c.text "
            "FROM file f LEFT JOIN chunk c ON c.file_id = f.id"
        ).fetchall()
    stored: dict[tuple[str, str], set[str]] = {}
    for file_id, user_id, *texts in rows:
        found = stored.setdefault((file_id, user_id), set())
        found.update(c for text in texts if text for c in CANARY.findall(text))
    mixed = 0
    for (file_id, user_id), found in stored.items():
        foreign = found - {owner_canary.get(user_id)}
        if user_id in owner_canary and foreign:
            mixed += 1
            metrics.fail(
                "cross_user",
                "database",
                f"file {file_id} of user {user_id} stores {sorted(foreign)} "
                f"(of users {[world.canary_owner.get(c) for c in sorted(foreign)]})",
            )
    counts["stored texts with another user's canary"] = mixed
    return counts


def check_blobs(metrics: Metrics, database_url: str, uploads_dir: Path) -> dict[str, int]:
    with connect(database_url) as (conn, _):
        paths = {
            row[0] for row in conn.execute("SELECT path FROM file WHERE path <> ''").fetchall()
        }
    on_disk = (
        {p.name for p in uploads_dir.iterdir() if p.is_file()} if uploads_dir.exists() else set()
    )
    missing, extra = sorted(paths - on_disk), sorted(on_disk - paths)
    if missing:
        metrics.fail(
            "lost", "blobs", f"{len(missing)} file rows without their stored bytes: {missing[:10]}"
        )
    if extra:
        metrics.fail(
            "orphan", "blobs", f"{len(extra)} stored blobs without a file row: {extra[:10]}"
        )
    return {"file rows without their blob": len(missing), "blobs without a file row": len(extra)}


class connect:
    """A plain DB-API connection to the server's database (read by the checks after the load)."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.conn: Any = None

    def __enter__(self) -> tuple[Any, str]:
        scheme, _, rest = self.url.partition("://")
        if scheme.startswith("sqlite"):
            try:
                import pysqlite3.dbapi2 as sqlite  # type: ignore[import-not-found]
            except ImportError:  # pragma: no cover
                import sqlite3 as sqlite
            self.conn = sqlite.connect(rest.removeprefix("/"), timeout=30, isolation_level=None)
            return self.conn, "sqlite"
        import psycopg

        self.conn = psycopg.connect(f"postgresql://{rest}", autocommit=True)
        return self.conn, "postgresql"

    def __exit__(self, *exc: object) -> None:
        self.conn.close()
