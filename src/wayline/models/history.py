"""A workspace model's saved versions (`/api/v1/models/model/history...`, `model/update/version`):
what a version holds, when a write saves one, and reading, deleting and restoring them. Only
those who may write the model (its owner, a write grant, an admin) see its history."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.bus import Bus
from wayline.core.clock import now
from wayline.core.db import begin_write
from wayline.core.versions import Versions, listing
from wayline.models.catalog import Catalog
from wayline.models.repository import MODELS_CHANGED, ModelRepository
from wayline.models.schemas import ModelForm, ModelRecord
from wayline.models.tables import ModelHistoryRow, ModelRow
from wayline.users.repository import UserRepository
from wayline.users.schemas import UserInfo

OWNER = "model_id"
# Per-row state rather than configuration: not part of what a version is.
_LIVE_META = ("hidden", "chat_variables_schema")


def versions(session: AsyncSession) -> Versions:
    return Versions(session, ModelHistoryRow, ModelHistoryRow.model_id)


def snapshot(row: ModelRow) -> dict[str, Any]:
    meta = deepcopy(row.meta or {})
    for key in _LIVE_META:
        meta.pop(key, None)
    return {
        "name": row.name,
        "base_model_id": row.base_model_id,
        "params": deepcopy(row.params or {}),
        "meta": meta,
    }


async def record(
    session: AsyncSession,
    row: ModelRow,
    before: dict[str, Any] | None,
    user_id: str,
    message: str | None = None,
) -> None:
    """Save a version when the write changed what one holds (or the row has none yet)."""
    after = snapshot(row)
    if row.version_id is None or after != before:
        await session.flush()  # a new row first: the version refers to it
        row.version_id = versions(session).add(row.id, after, user_id, row.version_id, message)


class ModelHistoryService:
    def __init__(self, session: AsyncSession, catalog: Catalog, bus: Bus) -> None:
        self.session = session
        self.repo = ModelRepository(session)
        self.versions = versions(session)
        self.catalog = catalog
        self.bus = bus

    async def _writable(self, user: UserInfo, model_id: str) -> ModelRow:
        found = await self.repo.get_readable(user, model_id)
        if found is None:
            raise errors.NotFound(errors.model_not_found(model_id))
        if not found[1]:
            raise errors.Unauthorized(errors.ACCESS_PROHIBITED)
        return found[0]

    async def _names(self, rows: list[ModelHistoryRow]) -> dict[str, str]:
        infos = await UserRepository(self.session).infos(sorted({r.user_id for r in rows}))
        return {user_id: info.name for user_id, info in infos.items()}

    async def page(self, user: UserInfo, model_id: str, page: int) -> list[dict[str, Any]]:
        await self._writable(user, model_id)
        rows = await self.versions.page(model_id, page)
        names = await self._names(rows)
        return [listing(row, OWNER, names, snapshot=False) for row in rows]

    async def entry(self, user: UserInfo, model_id: str, version_id: str) -> dict[str, Any]:
        await self._writable(user, model_id)
        row = await self.versions.get(model_id, version_id)
        return listing(row, OWNER, await self._names([row]), snapshot=True)

    async def delete(self, user: UserInfo, model_id: str, version_id: str) -> bool:
        await begin_write(self.session)
        row = await self._writable(user, model_id)
        await self.versions.delete(model_id, version_id, row.version_id)
        await self.session.commit()
        return True

    async def restore(self, user: UserInfo, model_id: str, version_id: str) -> ModelRecord:
        """Make a saved version current again (copied back, checked as an update would be; no
        new version is saved)."""
        await self._writable(user, model_id)
        saved = (await self.versions.get(model_id, version_id)).snapshot
        form = ModelForm.model_validate({**saved, "id": model_id})
        if form.base_model_id is not None:
            if not await self.catalog.usable_by(form.base_model_id, user):
                raise errors.BadRequest(
                    f"The base model '{form.base_model_id}' of this version is unavailable"
                )
        elif not user.is_admin:
            raise errors.Forbidden(errors.ACCESS_PROHIBITED)
        await begin_write(self.session)
        row = await self._writable(user, model_id)
        await self.versions.get(model_id, version_id)  # deleted meanwhile: 404
        row.name, row.base_model_id = form.name, form.base_model_id
        meta = dict(form.meta)
        for key in _LIVE_META:  # the live row keeps its own
            if key in (row.meta or {}):
                meta[key] = row.meta[key]
        row.params, row.meta = form.params, meta
        row.version_id, row.updated_at = version_id, now()
        await self.session.commit()
        await self.bus.publish(MODELS_CHANGED, {})
        return ModelRecord(
            version_id=row.version_id,
            id=row.id,
            user_id=row.user_id,
            base_model_id=row.base_model_id,
            name=row.name,
            params=row.params or {},
            meta=row.meta or {},
            access_grants=await self.repo.grants(row.id),
            is_active=row.is_active,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
