"""SQL for a collection's folders and where its files sit in them (`knowledge_directory`,
`knowledge_file.directory_id`). Callers check access first (`KnowledgeService`); every
statement here is scoped to one collection, so an id from another never matches."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core.clock import new_id, now
from wayline.core.db import affected
from wayline.knowledge.tables import KnowledgeDirectory, KnowledgeFile
from wayline.knowledge.tree import Folder


class DirectoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, knowledge_id: str, directory_id: str) -> KnowledgeDirectory | None:
        stmt = select(KnowledgeDirectory).where(
            KnowledgeDirectory.id == directory_id, KnowledgeDirectory.knowledge_id == knowledge_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def all(self, knowledge_id: str) -> list[KnowledgeDirectory]:
        stmt = (
            select(KnowledgeDirectory)
            .where(KnowledgeDirectory.knowledge_id == knowledge_id)
            .order_by(KnowledgeDirectory.name, KnowledgeDirectory.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def folders(self, knowledge_id: str) -> list[Folder]:
        stmt = select(
            KnowledgeDirectory.id, KnowledgeDirectory.parent_id, KnowledgeDirectory.name
        ).where(KnowledgeDirectory.knowledge_id == knowledge_id)
        return [Folder(*row) for row in (await self.session.execute(stmt)).all()]

    async def children(self, knowledge_id: str, parent_id: str | None) -> list[KnowledgeDirectory]:
        """The folders directly in `parent_id` (None: the root), by name."""
        parent = (
            KnowledgeDirectory.parent_id.is_(None)
            if parent_id is None
            else KnowledgeDirectory.parent_id == parent_id
        )
        stmt = (
            select(KnowledgeDirectory)
            .where(KnowledgeDirectory.knowledge_id == knowledge_id, parent)
            .order_by(KnowledgeDirectory.name, KnowledgeDirectory.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def name_taken(
        self, knowledge_id: str, parent_id: str | None, name: str, other_than: str | None = None
    ) -> bool:
        taken = [row.id for row in await self.children(knowledge_id, parent_id) if row.name == name]
        return any(folder_id != other_than for folder_id in taken)

    def add(
        self, knowledge_id: str, parent_id: str | None, name: str, user_id: str
    ) -> KnowledgeDirectory:
        stamp = now()
        row = KnowledgeDirectory(
            id=new_id(),
            knowledge_id=knowledge_id,
            parent_id=parent_id,
            name=name,
            user_id=user_id,
            created_at=stamp,
            updated_at=stamp,
        )
        self.session.add(row)
        return row

    async def delete(self, knowledge_id: str, directory_ids: Sequence[str]) -> None:
        """Delete folders (their sub-folders go too: ON DELETE CASCADE)."""
        if directory_ids:
            await self.session.execute(
                delete(KnowledgeDirectory).where(
                    KnowledgeDirectory.knowledge_id == knowledge_id,
                    KnowledgeDirectory.id.in_(list(directory_ids)),
                )
            )

    async def delete_all(self, knowledge_id: str) -> None:
        await self.session.execute(
            delete(KnowledgeDirectory).where(KnowledgeDirectory.knowledge_id == knowledge_id)
        )

    # --- files in folders -----------------------------------------------------------------
    async def file_ids_in(self, knowledge_id: str, directory_ids: Sequence[str]) -> list[str]:
        if not directory_ids:
            return []
        stmt = select(KnowledgeFile.file_id).where(
            KnowledgeFile.knowledge_id == knowledge_id,
            KnowledgeFile.directory_id.in_(list(directory_ids)),
        )
        return list((await self.session.execute(stmt)).scalars())

    async def move_files(
        self, knowledge_id: str, from_ids: Sequence[str], to_id: str | None
    ) -> None:
        """Put the files of folders `from_ids` into `to_id` (None: the root)."""
        if from_ids:
            await self.session.execute(
                update(KnowledgeFile)
                .where(
                    KnowledgeFile.knowledge_id == knowledge_id,
                    KnowledgeFile.directory_id.in_(list(from_ids)),
                )
                .values(directory_id=to_id)
            )

    async def move_file(self, knowledge_id: str, file_id: str, to_id: str | None) -> bool:
        result = await self.session.execute(
            update(KnowledgeFile)
            .where(KnowledgeFile.knowledge_id == knowledge_id, KnowledgeFile.file_id == file_id)
            .values(directory_id=to_id)
        )
        return affected(result) == 1
