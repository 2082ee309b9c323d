"""SQL for uploads waiting to join a collection (`knowledge_upload`, see `tables.py`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core.clock import now
from wayline.files.repository import file_table
from wayline.files.status import PENDING, PROCESSING
from wayline.knowledge.repository import FILE_COLUMNS
from wayline.knowledge.tables import KnowledgeUpload

F = file_table.c


class UploadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def stage(
        self, file_id: str, knowledge_id: str, directory_id: str | None, user_id: str
    ) -> None:
        self.session.add(
            KnowledgeUpload(
                file_id=file_id,
                knowledge_id=knowledge_id,
                directory_id=directory_id,
                user_id=user_id,
                created_at=now(),
            )
        )

    async def take(self, file_id: str) -> KnowledgeUpload | None:
        """The file's staged upload, removed in the caller's transaction (it is acted on once)."""
        row = await self.session.get(KnowledgeUpload, file_id)
        if row is not None:
            await self.session.execute(
                delete(KnowledgeUpload).where(KnowledgeUpload.file_id == file_id)
            )
        return row

    async def pending(self, knowledge_id: str, uploader_id: str | None) -> list[dict[str, Any]]:
        """Files staged for the collection that are still waiting or being processed (by
        `uploader_id`, or by anyone when None), oldest first."""
        joined = KnowledgeUpload.__table__.join(file_table, F.id == KnowledgeUpload.file_id)
        stmt = (
            select(*FILE_COLUMNS)
            .select_from(joined)
            .where(
                KnowledgeUpload.knowledge_id == knowledge_id,
                F.status.in_((PENDING, PROCESSING)),
            )
            .order_by(F.created_at, F.id)
        )
        if uploader_id is not None:
            stmt = stmt.where(KnowledgeUpload.user_id == uploader_id)
        return [dict(row) for row in (await self.session.execute(stmt)).mappings()]
