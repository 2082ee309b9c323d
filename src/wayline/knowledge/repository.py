"""SQL for collections; every read is scoped by the acting user through `access` clauses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core.clock import now
from wayline.core.grants import grants_of, replace_grants
from wayline.knowledge.access import RESOURCE, can_read, can_write, file_readable, file_table
from wayline.knowledge.tables import Knowledge, KnowledgeFile
from wayline.users.schemas import UserInfo
from wayline.users.tables import User

F = file_table.c
FILE_COLUMNS = (F.id, F.user_id, F.hash, F.filename, F.meta, F.data, F.status, F.error, F.created_at, F.updated_at)


class KnowledgeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- collections ------------------------------------------------------
    async def readable(self, user: UserInfo, knowledge_id: str) -> Knowledge | None:
        stmt = select(Knowledge).where(Knowledge.id == knowledge_id, can_read(user))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def lock(self, knowledge_id: str) -> None:
        """Start a write transaction on the collection row (touching `updated_at`).

        Taken before any read: SQLite cannot upgrade a read transaction to a write one
        while another connection commits ("database is locked" at once, no busy wait), and
        on PostgreSQL the row lock serialises concurrent changes (e.g. duplicate checks)."""
        await self.session.execute(
            update(Knowledge).where(Knowledge.id == knowledge_id).values(updated_at=now())
            .execution_options(synchronize_session=False)
        )

    async def writable(self, user: UserInfo, knowledge_id: str) -> bool:
        stmt = select(Knowledge.id).where(Knowledge.id == knowledge_id, can_write(user))
        return (await self.session.execute(stmt)).first() is not None

    async def writable_ids(self, user: UserInfo, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        stmt = select(Knowledge.id).where(Knowledge.id.in_(ids), can_write(user))
        return set((await self.session.execute(stmt)).scalars())

    async def page(self, user: UserInfo, skip: int, limit: int) -> tuple[list[tuple[Knowledge, User | None]], int]:
        where = can_read(user)
        total = (await self.session.execute(select(func.count()).select_from(Knowledge).where(where))).scalar_one()
        stmt = (
            select(Knowledge, User).outerjoin(User, User.id == Knowledge.user_id).where(where)
            .order_by(Knowledge.updated_at.desc(), Knowledge.id).offset(skip).limit(limit)
        )
        return [(k, u) for k, u in (await self.session.execute(stmt)).all()], total

    async def file_counts(self, ids: Sequence[str]) -> dict[str, int]:
        if not ids:
            return {}
        stmt = (
            select(KnowledgeFile.knowledge_id, func.count()).where(KnowledgeFile.knowledge_id.in_(ids))
            .group_by(KnowledgeFile.knowledge_id)
        )
        return {k: n for k, n in (await self.session.execute(stmt)).all()}

    # --- grants -------------------------------------------------------------
    async def grants(self, ids: Sequence[str]) -> dict[str, list[dict[str, str]]]:
        return await grants_of(self.session, RESOURCE, ids)

    async def replace_grants(self, knowledge_id: str, grants: Sequence[tuple[str, str, str]]) -> None:
        await replace_grants(self.session, RESOURCE, knowledge_id, grants)

    # --- files ----------------------------------------------------------------
    async def readable_file(self, user: UserInfo, file_id: str) -> dict[str, Any] | None:
        stmt = select(*FILE_COLUMNS, F.content).where(F.id == file_id, file_readable(user))
        row = (await self.session.execute(stmt)).mappings().first()
        return dict(row) if row else None

    async def files(self, knowledge_id: str, skip: int = 0, limit: int | None = None,
                    with_content: bool = False) -> tuple[list[dict[str, Any]], int]:
        base = (
            select(*FILE_COLUMNS, *((F.content,) if with_content else ()))
            .join(KnowledgeFile, KnowledgeFile.file_id == F.id).where(KnowledgeFile.knowledge_id == knowledge_id)
        )
        total = (await self.session.execute(
            select(func.count()).select_from(KnowledgeFile).where(KnowledgeFile.knowledge_id == knowledge_id)
        )).scalar_one()
        stmt = base.order_by(KnowledgeFile.created_at.desc(), F.id).offset(skip)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [dict(r) for r in (await self.session.execute(stmt)).mappings()], total

    async def linked_files(self, knowledge_id: str, with_content: bool = False) -> list[dict[str, Any]]:
        stmt = (
            select(*FILE_COLUMNS, *((F.content,) if with_content else ()))
            .join(KnowledgeFile, KnowledgeFile.file_id == F.id).where(KnowledgeFile.knowledge_id == knowledge_id)
        )
        return [dict(r) for r in (await self.session.execute(stmt)).mappings()]

    async def file_ids(self, knowledge_ids: Sequence[str]) -> list[str]:
        stmt = select(KnowledgeFile.file_id).where(KnowledgeFile.knowledge_id.in_(knowledge_ids)).distinct()
        return list((await self.session.execute(stmt)).scalars())

    async def is_linked(self, knowledge_id: str, file_id: str) -> bool:
        return await self.session.get(KnowledgeFile, (knowledge_id, file_id)) is not None

    async def same_hash_linked(self, knowledge_id: str, content_hash: str, file_id: str) -> bool:
        stmt = (
            select(F.id).join(KnowledgeFile, KnowledgeFile.file_id == F.id)
            .where(KnowledgeFile.knowledge_id == knowledge_id, F.hash == content_hash, F.id != file_id).limit(1)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def link(self, knowledge_id: str, file_id: str) -> None:
        self.session.add(KnowledgeFile(knowledge_id=knowledge_id, file_id=file_id, created_at=now()))

    async def unlink(self, knowledge_id: str, file_ids: Sequence[str] | None = None) -> None:
        stmt = delete(KnowledgeFile).where(KnowledgeFile.knowledge_id == knowledge_id)
        if file_ids is not None:
            stmt = stmt.where(KnowledgeFile.file_id.in_(file_ids))
        await self.session.execute(stmt)

    async def owners(self, user_ids: Sequence[str]) -> dict[str, User]:
        if not user_ids:
            return {}
        rows = await self.session.execute(select(User).where(User.id.in_(set(user_ids))))
        return {u.id: u for u in rows.scalars()}
