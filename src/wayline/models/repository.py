"""SQL for workspace models; every read is scoped to what the acting user may see."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, String, and_, delete, exists, insert, or_, select, table, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wayline.core.clock import new_id, now
from wayline.models.tables import ModelRow
from wayline.users.schemas import UserInfo

RESOURCE = "model"

access_grant = table(
    "access_grant",
    Column("id", String), Column("resource_type", String), Column("resource_id", String),
    Column("principal_type", String), Column("principal_id", String), Column("permission", String),
    Column("created_at"),
)


def _granted(user: UserInfo, permissions: tuple[str, ...]) -> ColumnElement[bool]:
    g = access_grant.c
    return exists().where(
        g.resource_type == RESOURCE, g.resource_id == ModelRow.id, g.permission.in_(permissions),
        or_(and_(g.principal_type == "user", g.principal_id.in_([user.id, "*"])), g.principal_type == "anyone"),
    )


def readable(user: UserInfo) -> ColumnElement[bool]:
    return true() if user.is_admin else or_(ModelRow.user_id == user.id, _granted(user, ("read", "write")))


def writable(user: UserInfo) -> ColumnElement[bool]:
    return true() if user.is_admin else or_(ModelRow.user_id == user.id, _granted(user, ("write",)))


class ModelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def exists(self, model_id: str) -> bool:
        return (await self.session.execute(select(ModelRow.id).where(ModelRow.id == model_id))).first() is not None

    async def list_readable(self, user: UserInfo) -> list[tuple[ModelRow, bool]]:
        stmt = select(ModelRow, writable(user)).where(readable(user)).order_by(ModelRow.updated_at.desc(), ModelRow.id)
        return [(row, bool(w)) for row, w in (await self.session.execute(stmt)).all()]

    async def get_readable(self, user: UserInfo, model_id: str) -> tuple[ModelRow, bool] | None:
        stmt = select(ModelRow, writable(user)).where(ModelRow.id == model_id, readable(user))
        found = (await self.session.execute(stmt)).first()
        return (found[0], bool(found[1])) if found else None

    async def grants(self, model_id: str) -> list[dict[str, Any]]:
        g = access_grant.c
        rows = await self.session.execute(
            select(g.principal_type, g.principal_id, g.permission).where(g.resource_type == RESOURCE, g.resource_id == model_id)
        )
        return [{"principal_type": t, "principal_id": p, "permission": perm} for t, p, perm in rows.all()]

    async def set_grants(self, model_id: str, grants: list[dict[str, Any]]) -> None:
        g = access_grant.c
        await self.session.execute(delete(access_grant).where(g.resource_type == RESOURCE, g.resource_id == model_id))
        unique = {(x["principal_type"], x["principal_id"], x["permission"]) for x in grants}
        if unique:
            await self.session.execute(insert(access_grant), [
                {"id": new_id(), "resource_type": RESOURCE, "resource_id": model_id, "principal_type": t,
                 "principal_id": p, "permission": perm, "created_at": now()}
                for t, p, perm in sorted(unique)
            ])

    def add(self, row: ModelRow) -> None:
        self.session.add(row)

    async def delete(self, model_id: str) -> None:
        await self.set_grants(model_id, [])
        await self.session.execute(delete(ModelRow).where(ModelRow.id == model_id))
