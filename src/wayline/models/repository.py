"""SQL for workspace models; every read is scoped to what the acting user may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wayline.core.grants import Grantee, granted, grants_of, replace_grants
from wayline.models.tables import ModelHistoryRow, ModelRow
from wayline.users.repository import UserRepository
from wayline.users.schemas import UserInfo

RESOURCE = "model"
# Announced after a workspace model or its grants changed: the model list is rebuilt.
MODELS_CHANGED = "models.changed"


@dataclass(frozen=True)
class Overlay:
    """What the model list lays over the upstream models: every workspace model, its grants,
    and whose rows may stand in for a base model (the admins)."""

    models: list[ModelRow]
    grants: dict[str, list[dict[str, Any]]]
    admins: frozenset[str]


async def load_overlay(session: AsyncSession) -> Overlay:
    """A system-wide read on purpose: the model list is filtered per user when served."""
    models = list((await session.execute(select(ModelRow).order_by(ModelRow.created_at))).scalars())
    grants = await grants_of(session, RESOURCE, [m.id for m in models])
    admins = frozenset(u.id for u in await UserRepository(session).admins())
    return Overlay(models, grants, admins)


def _granted(user: UserInfo, permissions: tuple[str, ...]) -> ColumnElement[bool]:
    return granted(RESOURCE, ModelRow.id, user, permissions)


def readable(user: UserInfo) -> ColumnElement[bool]:
    return (
        true()
        if user.is_admin
        else or_(ModelRow.user_id == user.id, _granted(user, ("read", "write")))
    )


def writable(user: UserInfo) -> ColumnElement[bool]:
    return true() if user.is_admin else or_(ModelRow.user_id == user.id, _granted(user, ("write",)))


class ModelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def exists(self, model_id: str) -> bool:
        return (
            await self.session.execute(select(ModelRow.id).where(ModelRow.id == model_id))
        ).first() is not None

    async def list_readable(self, user: UserInfo) -> list[tuple[ModelRow, bool]]:
        stmt = (
            select(ModelRow, writable(user))
            .where(readable(user))
            .order_by(ModelRow.updated_at.desc(), ModelRow.id)
        )
        return [(row, bool(w)) for row, w in (await self.session.execute(stmt)).all()]

    async def get_readable(self, user: UserInfo, model_id: str) -> tuple[ModelRow, bool] | None:
        stmt = select(ModelRow, writable(user)).where(ModelRow.id == model_id, readable(user))
        found = (await self.session.execute(stmt)).first()
        return (found[0], bool(found[1])) if found else None

    async def grants(self, model_id: str) -> list[dict[str, Any]]:
        return (await grants_of(self.session, RESOURCE, [model_id]))[model_id]

    async def set_grants(self, model_id: str, grants: list[dict[str, Any]]) -> None:
        await replace_grants(
            self.session,
            RESOURCE,
            model_id,
            sorted({(x["principal_type"], x["principal_id"], x["permission"]) for x in grants}),
        )

    def add(self, row: ModelRow) -> None:
        self.session.add(row)

    async def delete(self, model_id: str) -> None:
        await self.delete_many([model_id])

    # --- whole-collection reads and writes (`bulk.py`) -------------------------------------
    async def grants_map(self, model_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        return await grants_of(self.session, RESOURCE, model_ids)

    async def list_rows(
        self,
        *,
        presets: bool | None = None,
        writable_by: UserInfo | None = None,
        readable_by: UserInfo | None = None,
        ids: list[str] | None = None,
    ) -> list[ModelRow]:
        """Rows, oldest first: presets only (`presets=True`), base-model rows only (False) or
        both; narrowed to what a user may write or read, and to `ids`."""
        stmt = select(ModelRow).order_by(ModelRow.created_at, ModelRow.id)
        if presets is not None:
            column = ModelRow.base_model_id
            stmt = stmt.where(column.is_not(None) if presets else column.is_(None))
        if writable_by is not None:
            stmt = stmt.where(writable(writable_by))
        if readable_by is not None:
            stmt = stmt.where(readable(readable_by))
        if ids is not None:
            stmt = stmt.where(ModelRow.id.in_(ids))
        return list((await self.session.execute(stmt)).scalars())

    async def rows_by_id(self, ids: list[str], user: UserInfo) -> dict[str, tuple[ModelRow, bool]]:
        """Every row among `ids` (whoever owns it), each with whether `user` may write it."""
        if not ids:
            return {}
        stmt = select(ModelRow, writable(user)).where(ModelRow.id.in_(ids))
        return {row.id: (row, bool(w)) for row, w in (await self.session.execute(stmt)).all()}

    async def delete_many(self, model_ids: list[str]) -> None:
        """Rows with their grants and saved versions."""
        for model_id in model_ids:
            await self.set_grants(model_id, [])
        if model_ids:
            history = ModelHistoryRow
            await self.session.execute(delete(history).where(history.model_id.in_(model_ids)))
            await self.session.execute(delete(ModelRow).where(ModelRow.id.in_(model_ids)))


async def access_preview(
    session: AsyncSession, grantee: Grantee, owner_id: str | None
) -> tuple[list[tuple[str, str]], int]:
    """For the admin's access previews: the active models `grantee` may read through a grant
    (or owns, when `owner_id` is theirs) as (id, name), and how many active models there are."""
    active = ModelRow.is_active.is_(True)
    reach = granted(RESOURCE, ModelRow.id, grantee, ("read", "write"))
    if owner_id is not None:
        reach = or_(ModelRow.user_id == owner_id, reach)
    rows = await session.execute(
        select(ModelRow.id, ModelRow.name).where(active, reach).order_by(ModelRow.name)
    )
    total = await session.execute(select(func.count()).select_from(ModelRow).where(active))
    return [(i, n) for i, n in rows.all()], total.scalar_one()
