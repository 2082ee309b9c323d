"""The chunk change log: one version per committed transaction that changed chunks, and the files
it changed, so every process's in-memory index (`memory.py`) can catch up by reading only them.

Index writes `record` the file in the session; the log is written by a `before_commit` hook,
as the transaction's last statements. The version comes from one row (`index_state`),
incremented under its row lock: versions are committed in the order they are handed out, so
a reader that has seen version v has seen every change up to v. The lock is taken last and
held only until the commit, so it cannot close a cycle with the row locks taken before it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from wayline.core.clock import now

_PENDING = "wayline.chunk_changes"
EVERY_FILE = "*"  # the whole index was cleared
KEEP_SECONDS = 3600  # log entries older than this are pruned; a copy that old reloads in full
PRUNE_EVERY = 256  # versions


def record(session: AsyncSession, file_id: str) -> None:
    """Note that `file_id`'s chunks change in this transaction (logged when it commits)."""
    session.info.setdefault(_PENDING, set()).add(file_id)


@event.listens_for(Session, "before_commit")
def _write_log(session: Session) -> None:
    files: set[str] | None = session.info.pop(_PENDING, None)
    if not files:
        return
    version = session.execute(
        text("UPDATE index_state SET version = version + 1 WHERE id = 1 RETURNING version")
    ).scalar_one()
    stamp = now()
    session.execute(
        text("INSERT INTO chunk_change (version, file_id, created_at) VALUES (:v, :f, :t)"),
        [{"v": version, "f": file_id, "t": stamp} for file_id in sorted(files)],
    )
    if version % PRUNE_EVERY == 0:
        _prune(session, stamp - KEEP_SECONDS)


def _prune(session: Session, before: int) -> None:
    through = session.execute(
        text("SELECT max(version) FROM chunk_change WHERE created_at < :t"), {"t": before}
    ).scalar()
    if through is None:
        return
    session.execute(text("DELETE FROM chunk_change WHERE version <= :v"), {"v": through})
    session.execute(text("UPDATE index_state SET pruned_through = :v WHERE id = 1"), {"v": through})


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_PENDING, None)


async def current(session: AsyncSession) -> tuple[int, int]:
    """(the last version, the last version pruned from the log)."""
    row = (
        await session.execute(text("SELECT version, pruned_through FROM index_state WHERE id = 1"))
    ).one()
    return int(row.version), int(row.pruned_through)


async def changed_since(session: AsyncSession, version: int) -> set[str]:
    rows = await session.execute(
        text("SELECT DISTINCT file_id FROM chunk_change WHERE version > :v"), {"v": version}
    )
    return set(rows.scalars().all())
