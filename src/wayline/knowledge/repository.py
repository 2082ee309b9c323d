"""SQL for collections; every read is scoped by the acting user through `access` clauses.

Files and accounts belong to their domains: their tables are read here only through what
`files.repository` and `users.repository` expose (joins within one query stay one query)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core.clock import now
from wayline.core.grants import AccessGrant, Grantee, granted, grants_of, replace_grants
from wayline.files.repository import file_table
from wayline.knowledge.access import (
    RESOURCE,
    can_read,
    can_write,
    file_readable,
    file_writable,
    link_serves,
)
from wayline.knowledge.tables import Knowledge, KnowledgeFile
from wayline.users.repository import UserRepository, with_user
from wayline.users.schemas import UserInfo

F = file_table.c
FILE_COLUMNS = (
    F.id,
    F.user_id,
    F.hash,
    F.filename,
    F.meta,
    F.data,
    F.status,
    F.error,
    F.created_at,
    F.updated_at,
)


class KnowledgeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- collections ------------------------------------------------------
    async def readable(self, user: UserInfo, knowledge_id: str) -> Knowledge | None:
        stmt = select(Knowledge).where(Knowledge.id == knowledge_id, can_read(user))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def lock(self, knowledge_id: str) -> None:
        """Lock the collection row for this (write) transaction, touching `updated_at`: on
        PostgreSQL the row lock serialises concurrent changes (e.g. duplicate checks); on
        SQLite the transaction already holds the database's write lock (`begin_write`)."""
        await self.session.execute(
            update(Knowledge)
            .where(Knowledge.id == knowledge_id)
            .values(updated_at=now())
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

    async def page(
        self, user: UserInfo, skip: int, limit: int
    ) -> tuple[list[tuple[Knowledge, UserInfo | None]], int]:
        """A page of the collections `user` may read, each with its owner."""
        where = can_read(user)
        total = (
            await self.session.execute(select(func.count()).select_from(Knowledge).where(where))
        ).scalar_one()
        stmt = (
            with_user(select(Knowledge), Knowledge.user_id, outer=True)
            .where(where)
            .order_by(Knowledge.updated_at.desc(), Knowledge.id)
            .offset(skip)
            .limit(limit)
        )
        rows = (await self.session.execute(stmt)).all()
        return [(k, UserInfo.of(u) if u is not None else None) for k, u in rows], total

    async def file_counts(self, ids: Sequence[str]) -> dict[str, int]:
        if not ids:
            return {}
        stmt = (
            _served(KnowledgeFile.knowledge_id, func.count())
            .where(KnowledgeFile.knowledge_id.in_(ids))
            .group_by(KnowledgeFile.knowledge_id)
        )
        return {k: n for k, n in (await self.session.execute(stmt)).all()}

    # --- grants -------------------------------------------------------------
    async def grants(self, ids: Sequence[str]) -> dict[str, list[dict[str, str]]]:
        return await grants_of(self.session, RESOURCE, ids)

    async def replace_grants(
        self, knowledge_id: str, grants: Sequence[tuple[str, str, str]]
    ) -> None:
        await replace_grants(self.session, RESOURCE, knowledge_id, grants)

    # --- files ----------------------------------------------------------------
    async def readable_file(self, user: UserInfo, file_id: str) -> dict[str, Any] | None:
        stmt = select(*FILE_COLUMNS, F.content).where(F.id == file_id, file_readable(user))
        row = (await self.session.execute(stmt)).mappings().first()
        return dict(row) if row else None

    async def writable_file(self, user: UserInfo, file_id: str) -> bool:
        stmt = select(F.id).where(F.id == file_id, file_writable(user))
        return (await self.session.execute(stmt)).first() is not None

    async def would_serve(self, knowledge_id: str, file_id: str) -> bool:
        """Whether a link from the collection to the file would serve it (`access.link_serves`)."""
        stmt = (
            select(Knowledge.id)
            .select_from(Knowledge, file_table)
            .where(
                Knowledge.id == knowledge_id,
                F.id == file_id,
                link_serves(Knowledge, F.id, F.user_id),
            )
        )
        return (await self.session.execute(stmt)).first() is not None

    async def would_serve_owner(self, knowledge_id: str, owner_id: str) -> bool:
        """Whether a link from the collection would serve a new file of `owner_id`'s (one no
        collection holds yet): what an upload into the collection is checked against."""
        stmt = select(Knowledge.id).where(
            Knowledge.id == knowledge_id,
            link_serves(Knowledge, literal(""), literal(owner_id)),
        )
        return (await self.session.execute(stmt)).first() is not None

    async def files(
        self, knowledge_id: str, skip: int = 0, limit: int | None = None, with_content: bool = False
    ) -> tuple[list[dict[str, Any]], int]:
        """The files the collection serves (see `access.link_serves`), newest link first."""
        where = KnowledgeFile.knowledge_id == knowledge_id
        total = (await self.session.execute(_served(func.count()).where(where))).scalar_one()
        stmt = (
            _served(*FILE_COLUMNS, *((F.content,) if with_content else ()))
            .where(where)
            .order_by(KnowledgeFile.created_at.desc(), F.id)
            .offset(skip)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return [dict(r) for r in (await self.session.execute(stmt)).mappings()], total

    async def linked_files(
        self, knowledge_id: str, with_content: bool = False
    ) -> list[dict[str, Any]]:
        return (await self.files(knowledge_id, with_content=with_content))[0]

    async def file_ids(self, knowledge_ids: Sequence[str]) -> list[str]:
        # One statement built once (its access rules make it costly to build) and run on the
        # connection: plain ids need no ORM row processing. Both were most of a query's time
        # on a 5,000-file collection.
        connection = await self.session.connection()
        result = await connection.execute(_served_ids(), {"ids": list(knowledge_ids)})
        return list(result.scalars())

    async def linked_ids(self, knowledge_id: str) -> list[str]:
        """Every linked file, served or not (for reset and delete)."""
        stmt = select(KnowledgeFile.file_id).where(KnowledgeFile.knowledge_id == knowledge_id)
        return list((await self.session.execute(stmt)).scalars())

    async def is_linked(self, knowledge_id: str, file_id: str) -> bool:
        return await self.session.get(KnowledgeFile, (knowledge_id, file_id)) is not None

    async def same_hash_linked(self, knowledge_id: str, content_hash: str, file_id: str) -> bool:
        stmt = (
            select(F.id)
            .join(KnowledgeFile, KnowledgeFile.file_id == F.id)
            .where(
                KnowledgeFile.knowledge_id == knowledge_id, F.hash == content_hash, F.id != file_id
            )
            .limit(1)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def link(self, knowledge_id: str, file_id: str, directory_id: str | None = None) -> None:
        # The file's owner is copied onto the link (a file never changes owner): the access rule
        # needs it for every file of a collection, and reading it from the wide file rows was
        # most of a search's time on a 5,000-file collection. A file deleted meanwhile has
        # none; the foreign key then refuses the link as before.
        owner = (await self.session.execute(select(F.user_id).where(F.id == file_id))).scalar()
        self.session.add(
            KnowledgeFile(
                knowledge_id=knowledge_id,
                file_id=file_id,
                file_user_id=owner,
                directory_id=directory_id,
                created_at=now(),
            )
        )

    async def unlink(self, knowledge_id: str, file_ids: Sequence[str] | None = None) -> None:
        stmt = delete(KnowledgeFile).where(KnowledgeFile.knowledge_id == knowledge_id)
        if file_ids is not None:
            stmt = stmt.where(KnowledgeFile.file_id.in_(file_ids))
        await self.session.execute(stmt)

    async def delete_all(self) -> None:
        """Every collection with its grants (links and folders go by cascade): the vector
        store's reset (`/api/v1/retrieval/reset/db`). Files stay."""
        await self.session.execute(delete(AccessGrant).where(AccessGrant.resource_type == RESOURCE))
        await self.session.execute(delete(Knowledge))

    async def owners(self, user_ids: Sequence[str]) -> dict[str, UserInfo]:
        return await UserRepository(self.session).infos(user_ids)


@lru_cache(maxsize=1)
def _served_ids() -> Select[Any]:
    """The ids of the files the collections `:ids` serve (a file in two of them: twice)."""
    ids = KnowledgeFile.knowledge_id.in_(bindparam("ids", expanding=True))
    joined = KnowledgeFile.__table__.join(Knowledge, Knowledge.id == KnowledgeFile.knowledge_id)
    links = KnowledgeFile.__table__.c
    serves = link_serves(Knowledge, links.file_id, links.file_user_id)
    return select(KnowledgeFile.file_id).select_from(joined).where(ids, serves)


def _served(*columns: Any) -> Select[Any]:
    """SELECT `columns` over knowledge_file ⋈ knowledge ⋈ file, keeping only links that still
    serve their file (`access.link_serves`)."""
    joined = KnowledgeFile.__table__.join(
        Knowledge, Knowledge.id == KnowledgeFile.knowledge_id
    ).join(file_table, F.id == KnowledgeFile.file_id)
    return select(*columns).select_from(joined).where(link_serves(Knowledge, F.id, F.user_id))


async def access_preview(
    session: AsyncSession, grantee: Grantee, owner_id: str | None
) -> tuple[list[tuple[str, str]], int]:
    """For the admin's access previews: the collections `grantee` may read through a grant (or
    owns, when `owner_id` is theirs) as (id, name), and how many collections there are."""
    reach = granted(RESOURCE, Knowledge.id, grantee, ("read", "write"))
    if owner_id is not None:
        reach = or_(Knowledge.user_id == owner_id, reach)
    rows = await session.execute(
        select(Knowledge.id, Knowledge.name).where(reach).order_by(Knowledge.name)
    )
    total = await session.execute(select(func.count()).select_from(Knowledge))
    return [(i, n) for i, n in rows.all()], total.scalar_one()
