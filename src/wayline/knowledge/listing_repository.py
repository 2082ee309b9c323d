"""SQL for the filtered lists of Open WebUI 0.12's knowledge API: a collection's files by
folder (`/{id}/files`), collections by name (`/search`), files across every readable
collection (`/search/files`), and what the sync diff and the export read. Every file list
keeps only the links that still serve their file (`access.link_serves`), as the plain lists do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wayline.files.repository import file_table
from wayline.files.status import FAILED
from wayline.knowledge.access import can_read, link_serves
from wayline.knowledge.repository import FILE_COLUMNS
from wayline.knowledge.tables import Knowledge, KnowledgeFile
from wayline.knowledge.tree import StoredFile
from wayline.users.repository import with_user
from wayline.users.schemas import UserInfo

F = file_table.c
SORTABLE_FILES = {"name": F.filename, "created_at": F.created_at, "updated_at": F.updated_at}
SORTABLE_COLLECTIONS = {
    "name": Knowledge.name,
    "created_at": Knowledge.created_at,
    "updated_at": Knowledge.updated_at,
}


@dataclass(frozen=True)
class FileFilter:
    """`/{id}/files` parameters. `folder` applies only when `in_folder`: None is the root."""

    in_folder: bool = False
    folder: str | None = None
    query: str | None = None
    include_content: bool = False
    view_option: str | None = None  # "created": the caller's files; "shared": others'
    order_by: str | None = None
    direction: str | None = None


def _served(*columns: Any) -> Select[Any]:
    joined = KnowledgeFile.__table__.join(
        Knowledge, Knowledge.id == KnowledgeFile.knowledge_id
    ).join(file_table, F.id == KnowledgeFile.file_id)
    return select(*columns).select_from(joined).where(link_serves(Knowledge, F.id, F.user_id))


def _matches(query: str, include_content: bool) -> ColumnElement[bool]:
    by_name = F.filename.icontains(query, autoescape=True)
    return or_(by_name, F.content.icontains(query, autoescape=True)) if include_content else by_name


def _ordered(
    stmt: Select[Any], sortable: dict[str, Any], order_by: str, direction: str | None
) -> Select[Any]:
    column = sortable[order_by]
    return stmt.order_by(column.asc() if direction == "asc" else column.desc())


class ListingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def files(
        self, user: UserInfo, knowledge_id: str, where: FileFilter, skip: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the collection's files with their folder; newest link first unless
        `order_by` names a sort."""
        clauses: list[ColumnElement[bool]] = [KnowledgeFile.knowledge_id == knowledge_id]
        if where.in_folder:
            folder = KnowledgeFile.directory_id
            clauses.append(folder.is_(None) if where.folder is None else folder == where.folder)
        if where.query:
            clauses.append(_matches(where.query, where.include_content))
        if where.view_option == "created":
            clauses.append(F.user_id == user.id)
        elif where.view_option == "shared":
            clauses.append(F.user_id != user.id)
        total = (await self.session.execute(_served(func.count()).where(*clauses))).scalar_one()
        stmt = _served(*FILE_COLUMNS, KnowledgeFile.directory_id).where(*clauses)
        if where.order_by is not None and where.order_by in SORTABLE_FILES:
            stmt = _ordered(stmt, SORTABLE_FILES, where.order_by, where.direction)
        else:
            stmt = stmt.order_by(KnowledgeFile.created_at.desc())
        stmt = stmt.order_by(F.id).offset(skip).limit(limit)
        return [dict(r) for r in (await self.session.execute(stmt)).mappings()], total

    async def collections(
        self,
        user: UserInfo,
        query: str | None,
        view_option: str | None,
        order_by: str | None,
        direction: str | None,
        skip: int,
        limit: int,
    ) -> tuple[list[tuple[Knowledge, UserInfo | None]], int]:
        """A page of the collections `user` may read whose name or description contains
        `query`, each with its owner."""
        clauses: list[ColumnElement[bool]] = [can_read(user)]
        if query:
            clauses.append(
                or_(
                    Knowledge.name.icontains(query, autoescape=True),
                    Knowledge.description.icontains(query, autoescape=True),
                )
            )
        if view_option == "created":
            clauses.append(Knowledge.user_id == user.id)
        elif view_option == "shared":
            clauses.append(Knowledge.user_id != user.id)
        count = select(func.count()).select_from(Knowledge).where(*clauses)
        total = (await self.session.execute(count)).scalar_one()
        stmt = with_user(select(Knowledge), Knowledge.user_id, outer=True).where(*clauses)
        if order_by is not None and order_by in SORTABLE_COLLECTIONS:
            stmt = _ordered(stmt, SORTABLE_COLLECTIONS, order_by, direction)
        else:
            stmt = stmt.order_by(Knowledge.updated_at.desc())
        stmt = stmt.order_by(Knowledge.id).offset(skip).limit(limit)
        rows = (await self.session.execute(stmt)).all()
        return [(k, UserInfo.of(u) if u is not None else None) for k, u in rows], total

    async def found_files(
        self, user: UserInfo, query: str | None, include_content: bool, skip: int, limit: int
    ) -> tuple[list[tuple[dict[str, Any], Knowledge]], int]:
        """A page of (file, collection) for every file in a collection `user` may read (a file
        in two of them: twice), most recently changed first."""
        clauses: list[ColumnElement[bool]] = [can_read(user)]
        if query:
            clauses.append(_matches(query, include_content))
        total = (await self.session.execute(_served(func.count()).where(*clauses))).scalar_one()
        columns = (*FILE_COLUMNS, KnowledgeFile.directory_id)
        stmt = (
            _served(*columns, Knowledge)
            .where(*clauses)
            .order_by(F.updated_at.desc(), F.id, Knowledge.id)
            .offset(skip)
            .limit(limit)
        )
        out: list[tuple[dict[str, Any], Knowledge]] = []
        for row in (await self.session.execute(stmt)).all():
            n = len(columns)
            out.append((dict(zip(row._fields[:n], row[:n], strict=True)), row[n]))
        return out, total

    async def stored_files(self, knowledge_id: str) -> list[StoredFile]:
        """Every file the collection serves, as the sync diff compares them."""
        stmt = _served(
            F.id,
            F.filename,
            KnowledgeFile.directory_id,
            F.meta,
            F.status,
            KnowledgeFile.created_at,
        ).where(KnowledgeFile.knowledge_id == knowledge_id)
        out = []
        for file_id, filename, folder, meta, status, linked_at in (
            await self.session.execute(stmt)
        ).all():
            checksum = (meta or {}).get("file_hash")
            out.append(
                StoredFile(
                    file_id=file_id,
                    filename=filename,
                    directory_id=folder,
                    checksum=checksum if isinstance(checksum, str) else None,
                    failed=status == FAILED,
                    linked_at=linked_at,
                )
            )
        return out

    async def export_ids(self, knowledge_id: str) -> list[str]:
        stmt = (
            _served(F.id)
            .where(KnowledgeFile.knowledge_id == knowledge_id, F.content.is_not(None))
            .order_by(KnowledgeFile.created_at, F.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def export_texts(
        self, knowledge_id: str, file_ids: Sequence[str]
    ) -> list[tuple[str, str | None, str]]:
        """(filename, folder id, extracted text) of some of the collection's files."""
        stmt = _served(F.filename, KnowledgeFile.directory_id, F.content).where(
            KnowledgeFile.knowledge_id == knowledge_id, F.id.in_(list(file_ids))
        )
        return [(n, d, c or "") for n, d, c in (await self.session.execute(stmt)).all()]

    async def linked_anywhere(self, file_ids: Sequence[str]) -> set[str]:
        """The files among `file_ids` that some collection still links."""
        if not file_ids:
            return set()
        stmt = select(KnowledgeFile.file_id).where(KnowledgeFile.file_id.in_(list(file_ids)))
        return set((await self.session.execute(stmt)).scalars())

    async def all_linked_ids(self) -> list[str]:
        """Every file any collection links (for the admin's reindex)."""
        stmt = select(KnowledgeFile.file_id).distinct()
        return list((await self.session.execute(stmt)).scalars())

    async def count_collections(self) -> int:
        count = select(func.count()).select_from(Knowledge)
        return int((await self.session.execute(count)).scalar_one())
