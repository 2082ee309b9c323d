"""SQL for file rows. Reads that serve a user are scoped by owner (admins see all).

`file_table` is what other domains may put in their own queries when a file must be joined or
scoped in the same statement (knowledge: who may read a file through a collection). They read
it only: every write to a file row is a `FileRepository` method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import FromClause

from wayline.core.clock import now
from wayline.core.db import affected
from wayline.files.status import COMPLETED, FAILED, PENDING, PROCESSING, STORED, UNPROCESSED
from wayline.files.tables import File
from wayline.users.repository import is_admin
from wayline.users.schemas import UserInfo

# The file table, declared once (`files.tables`), for other domains' read-only joins.
file_table: FromClause = File.__table__


class FileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, file_id: str) -> File | None:
        return await self.session.get(File, file_id, populate_existing=True)

    async def get_for(self, user: UserInfo, file_id: str) -> File | None:
        row = await self.get(file_id)
        if row is None or (row.user_id != user.id and not user.is_admin):
            return None
        return row

    async def list_for(self, user: UserInfo, offset: int, limit: int) -> tuple[list[File], int]:
        scope = [] if user.is_admin else [File.user_id == user.id]
        total = (
            await self.session.execute(select(func.count()).select_from(File).where(*scope))
        ).scalar_one()
        rows = (
            (
                await self.session.execute(
                    select(File)
                    .where(*scope)
                    .order_by(File.updated_at.desc(), File.id)
                    .offset(offset)
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
        return list(rows), int(total)

    async def lock(self, file_id: str) -> File | None:
        """The row, locked until the transaction ends (PostgreSQL: FOR UPDATE; SQLite's write
        transaction already holds the database), for a read-modify-write of its JSON columns."""
        stmt = select(File).where(File.id == file_id).with_for_update()
        return (
            await self.session.execute(stmt, execution_options={"populate_existing": True})
        ).scalar_one_or_none()

    async def search(
        self, owner_id: str | None, pattern: str, offset: int, limit: int
    ) -> list[File]:
        """Files whose name matches the glob `pattern` (`*`, `?`; case-insensitive), newest
        first; only `owner_id`'s unless it is None (every user's)."""
        scope = [] if owner_id is None else [File.user_id == owner_id]
        like = glob_to_like(pattern)
        if like != "%":
            scope.append(File.filename.ilike(like, escape="\\"))
        stmt = (
            select(File)
            .where(*scope)
            .order_by(File.created_at.desc(), File.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars().all())

    async def count(self, owner_id: str | None) -> int:
        """How many files `owner_id` has (None: every user's)."""
        scope = [] if owner_id is None else [File.user_id == owner_id]
        stmt = select(func.count()).select_from(File).where(*scope)
        return int((await self.session.execute(stmt)).scalar_one())

    async def owner_is_admin(self, file_id: str) -> bool:
        stmt = select(File.id).where(File.id == file_id, is_admin(File.user_id))
        return (await self.session.execute(stmt)).first() is not None

    async def get_many(self, file_ids: Sequence[str]) -> list[File]:
        if not file_ids:
            return []
        return list(
            (await self.session.execute(select(File).where(File.id.in_(list(file_ids)))))
            .scalars()
            .all()
        )

    async def owned_ids(self, user: UserInfo, file_ids: Sequence[str]) -> list[str]:
        """The files among `file_ids` that `user` owns (every one that exists, for an admin)."""
        if not file_ids:
            return []
        scope = [] if user.is_admin else [File.user_id == user.id]
        stmt = select(File.id).where(File.id.in_(list(file_ids)), *scope)
        return list((await self.session.execute(stmt)).scalars())

    def add(self, row: File) -> None:
        self.session.add(row)

    async def mark_pending(self, file_id: str) -> bool:
        """Compare-and-set a file that was never processed, or whose processing failed, back to
        `pending` (a worker then claims it); a file a worker holds or finished is left alone."""
        result = await self.session.execute(
            update(File)
            .where(File.id == file_id, File.status.in_(UNPROCESSED))
            .values(status=PENDING, error=None, error_status=None)
        )
        return bool(affected(result))

    async def forget_indexes(self, file_ids: Sequence[str] | None = None) -> None:
        """Completed files (every one, or these) back to "stored, not processed", as their chunks
        are deleted in the same transaction: no hash; the extracted text is kept. Processing
        them again (`/api/v1/retrieval/process/file`) re-indexes them."""
        scope = [File.status == COMPLETED]
        if file_ids is not None:
            scope.append(File.id.in_(list(file_ids)))
        await self.session.execute(
            update(File)
            .where(*scope)
            .values(status=STORED, hash=None, progress_done=0, progress_total=0, updated_at=now())
        )

    async def mark_outdated_pending(self, file_ids: Sequence[str], signature: str) -> int:
        """Set back to `pending` the files among `file_ids` that failed, or completed with an
        index signature other than `signature` (a file without one had its text edited: left
        alone). A compare-and-set like `mark_pending`; how many rows it changed."""
        indexed_as = File.data["index_signature"].as_string()
        outdated = or_(
            File.status == FAILED,
            and_(File.status == COMPLETED, indexed_as.is_not(None), indexed_as != signature),
        )
        changed = 0
        ids = list(dict.fromkeys(file_ids))
        for start in range(0, len(ids), 500):  # bound parameter lists stay small on any backend
            result = await self.session.execute(
                update(File)
                .where(File.id.in_(ids[start : start + 500]), outdated)
                .values(status=PENDING, error=None, error_status=None, updated_at=now())
            )
            changed += affected(result)
        return changed

    async def delete(self, file_id: str) -> None:
        await self.session.execute(delete(File).where(File.id == file_id))

    async def delete_all(self) -> None:
        await self.session.execute(delete(File))

    # --- job claims ------------------------------------------------------------
    @staticmethod
    def _claimable(stale_before: int, dead: Sequence[str]) -> Any:
        taken_over = (
            or_(File.claimed_at < stale_before, File.claimed_by.in_(list(dead)))
            if dead
            else File.claimed_at < stale_before
        )
        return or_(File.status == PENDING, and_(File.status == PROCESSING, taken_over))

    async def unfinished_count(self) -> int:
        """Files waiting for a worker or being processed, in every replica: the queue's depth."""
        stmt = select(func.count()).select_from(File).where(File.status.in_((PENDING, PROCESSING)))
        return int((await self.session.execute(stmt)).scalar_one())

    async def processing_claimants(self) -> list[str]:
        rows = await self.session.execute(
            select(File.claimed_by).where(File.status == PROCESSING).distinct()
        )
        return [r for r in rows.scalars().all() if r]

    async def claimable(
        self, stale_before: int, dead: Sequence[str] = (), limit: int = 1
    ) -> list[tuple[str, int]]:
        """(id, size in bytes) of the oldest jobs that may be claimed."""
        stmt = (
            select(File.id, File.meta["size"].as_integer())
            .where(self._claimable(stale_before, dead))
            .order_by(File.created_at, File.id)
            .limit(limit)
        )
        if self.session.bind is not None and self.session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return [(file_id, size or 0) for file_id, size in (await self.session.execute(stmt)).all()]

    async def claim(
        self, file_id: str, worker: str, stale_before: int, dead: Sequence[str] = ()
    ) -> bool:
        """Compare-and-set the claim: only one worker (in any replica) wins a pending or stale
        job."""
        result = await self.session.execute(
            update(File)
            .where(File.id == file_id, self._claimable(stale_before, dead))
            .values(
                status=PROCESSING,
                claimed_by=worker,
                claimed_at=now(),
                error=None,
                error_status=None,
                progress_done=0,
                progress_total=0,
                updated_at=now(),
            )
        )
        return affected(result) == 1

    async def update_claimed(self, file_id: str, worker: str, **values: Any) -> bool:
        """Update a job row only while `worker` still holds its claim (it may have been deleted
        or taken over)."""
        result = await self.session.execute(
            update(File)
            .where(File.id == file_id, File.claimed_by == worker, File.status == PROCESSING)
            .values(**values)
        )
        return affected(result) == 1

    async def find_indexed_twin(
        self, file_hash: str, exclude_id: str, signature: str
    ) -> File | None:
        """A completed file with identical bytes indexed the same way, whose chunks can be
        reused."""
        rows = (
            (
                await self.session.execute(
                    select(File)
                    .where(
                        File.file_hash == file_hash, File.status == COMPLETED, File.id != exclude_id
                    )
                    .order_by(File.updated_at.desc())
                    .limit(20)
                )
            )
            .scalars()
            .all()
        )
        for row in rows:
            if (row.data or {}).get("index_signature") == signature:
                return row
        return None


def glob_to_like(pattern: str) -> str:
    """A filename glob as a LIKE pattern (escape character `\\`): `*` → `%`, `?` → `_`, and
    LIKE's own wildcards matched literally."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")
