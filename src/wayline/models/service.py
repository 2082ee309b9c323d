"""Workspace models (presets over a base model, or admin overrides of one)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.clock import now
from wayline.models.repository import ModelRepository
from wayline.models.schemas import ModelForm, ModelListResponse, ModelResponse
from wayline.models.tables import ModelRow
from wayline.providers.registry import ModelRegistry
from wayline.users.schemas import UserInfo

ID_TAKEN = "Uh-oh! This id is already registered. Please choose another id string."


class ModelService:
    def __init__(self, session: AsyncSession, registry: ModelRegistry) -> None:
        self.session = session
        self.repo = ModelRepository(session)
        self.registry = registry

    async def _response(self, row: ModelRow, write: bool) -> ModelResponse:
        return ModelResponse(
            id=row.id, user_id=row.user_id, base_model_id=row.base_model_id, name=row.name,
            params=row.params or {}, meta=row.meta or {}, access_grants=await self.repo.grants(row.id),
            is_active=row.is_active, created_at=row.created_at, updated_at=row.updated_at, write_access=write,
        )

    async def _check_base(self, user: UserInfo, form: ModelForm) -> None:
        snap = await self.registry.snapshot()
        if form.base_model_id is None:
            # An override of a base model: admins only, and the base must exist.
            if not user.is_admin:
                raise errors.BadRequest("'base_model_id' is required: only admins may override a base model")
            if snap.entries.get(form.id) is None:
                raise errors.NotFound(errors.model_not_found(form.id))
            return
        if form.base_model_id == form.id:
            raise errors.BadRequest("A model cannot be its own base model")
        base = snap.find(form.base_model_id)
        if base is None or not base.readable_by(user.id, user.is_admin, self.registry.bypass()):
            raise errors.NotFound(errors.model_not_found(form.base_model_id))
        shadowed = snap.entries.get(form.id)
        if shadowed is not None and not shadowed.has_row:
            raise errors.BadRequest(f"'{form.id}' is the id of a base model; choose another id")

    async def create(self, user: UserInfo, form: ModelForm) -> ModelResponse:
        if await self.repo.exists(form.id):
            raise errors.BadRequest(ID_TAKEN)
        await self._check_base(user, form)
        ts = now()
        row = ModelRow(
            id=form.id, user_id=user.id, base_model_id=form.base_model_id, name=form.name,
            params=form.params, meta=form.meta, is_active=form.is_active, created_at=ts, updated_at=ts,
        )
        self.repo.add(row)
        await self.session.flush()
        await self.repo.set_grants(row.id, [g.model_dump() for g in form.access_grants or []])
        await self.session.commit()
        await self.registry.changed()
        return await self._response(row, True)

    async def list(self, user: UserInfo) -> ModelListResponse:
        items = [await self._response(row, w) for row, w in await self.repo.list_readable(user)]
        return ModelListResponse(items=items, total=len(items))

    async def _get(self, user: UserInfo, model_id: str, write: bool = False) -> ModelRow:
        found = await self.repo.get_readable(user, model_id)
        if found is None:
            raise errors.NotFound(errors.model_not_found(model_id))
        if write and not found[1]:
            raise errors.Unauthorized(errors.ACCESS_PROHIBITED)
        return found[0]

    async def get(self, user: UserInfo, model_id: str) -> ModelResponse:
        found = await self.repo.get_readable(user, model_id)
        if found is None:
            raise errors.NotFound(errors.model_not_found(model_id))
        return await self._response(*found)

    async def update(self, user: UserInfo, model_id: str, form: ModelForm) -> ModelResponse:
        row = await self._get(user, model_id, write=True)
        if form.id != model_id:
            raise errors.BadRequest("The model id cannot be changed")
        if form.base_model_id != row.base_model_id:
            await self._check_base(user, form)
        row.base_model_id, row.name, row.params, row.meta = form.base_model_id, form.name, form.params, form.meta
        row.is_active, row.updated_at = form.is_active, now()
        if form.access_grants is not None:
            await self.repo.set_grants(row.id, [g.model_dump() for g in form.access_grants])
        await self.session.commit()
        await self.registry.changed()
        return await self._response(row, True)

    async def toggle(self, user: UserInfo, model_id: str) -> ModelResponse:
        row = await self._get(user, model_id, write=True)
        row.is_active, row.updated_at = not row.is_active, now()
        await self.session.commit()
        await self.registry.changed()
        return await self._response(row, True)

    async def delete(self, user: UserInfo, model_id: str) -> bool:
        await self._get(user, model_id, write=True)
        await self.repo.delete(model_id)
        await self.session.commit()
        await self.registry.changed()
        return True
