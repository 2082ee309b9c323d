"""Function CRUD: every write re-validates the source by loading it (admin-only, see loader.py).

The source is loaded before the write transaction opens (`begin_write`), so SQLite's write
lock is never held while admin code is imported."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.bus import Bus
from wayline.core.clock import now
from wayline.core.db import begin_write
from wayline.core.storable import json_object
from wayline.functions import loader
from wayline.functions.repository import FunctionRepository
from wayline.functions.schemas import FunctionForm, FunctionModel, FunctionResponse
from wayline.functions.tables import FunctionRow
from wayline.users.schemas import UserInfo

ID_TAKEN = "Uh-oh! This id is already registered. Please choose another id string."


def _response(row: FunctionRow) -> FunctionResponse:
    return FunctionResponse(
        id=row.id,
        user_id=row.user_id,
        type=row.type,
        name=row.name,
        meta=row.meta or {},
        is_active=row.is_active,
        is_global=row.is_global,
        updated_at=row.updated_at,
        created_at=row.created_at,
    )


def _validate(function_id: str, content: str, valves: dict[str, Any] | None) -> str:
    """Load and instantiate once so a broken source is refused with its error; returns the kind."""
    module, kind = loader.load(function_id, content)
    loader.instantiate(module, kind, valves)
    return kind


# Announced after a function was created, changed or deleted: the model registry drops the
# loaded instance and rebuilds the model list.
FUNCTIONS_CHANGED = "functions.changed"


class FunctionService:
    def __init__(self, session: AsyncSession, bus: Bus) -> None:
        self.session = session
        self.repo = FunctionRepository(session)
        self.bus = bus

    async def _get(self, function_id: str) -> FunctionRow:
        row = await self.repo.get(function_id)
        if row is None:
            raise errors.NotFound()
        return row

    async def _changed(self, function_id: str) -> None:
        await self.bus.publish(FUNCTIONS_CHANGED, {"function_id": function_id})

    async def create(self, user: UserInfo, form: FunctionForm) -> FunctionResponse:
        # Checked before loading (which would replace a live function's module) and again when
        # writing.
        if await self.repo.get(form.id) is not None:
            raise errors.BadRequest(ID_TAKEN)
        kind = _validate(form.id, form.content, None)
        await begin_write(self.session)
        if await self.repo.get(form.id) is not None:
            raise errors.BadRequest(ID_TAKEN)
        ts = now()
        row = FunctionRow(
            id=form.id,
            user_id=user.id,
            name=form.name,
            type=kind,
            content=form.content,
            meta=form.meta,
            valves=None,
            is_active=False,
            is_global=False,
            created_at=ts,
            updated_at=ts,
        )
        self.repo.add(row)
        try:
            await self.session.commit()
        except IntegrityError:
            await self.session.rollback()
            if (
                await self.repo.get(form.id) is not None
            ):  # a concurrent create of the same id won (PostgreSQL)
                raise errors.BadRequest(ID_TAKEN) from None
            raise
        await self._changed(row.id)
        return _response(row)

    async def list(self) -> list[FunctionResponse]:
        return [_response(row) for row in await self.repo.list()]

    async def get(self, function_id: str) -> FunctionModel:
        row = await self._get(function_id)
        return FunctionModel(**_response(row).model_dump(), content=row.content)

    async def update(self, function_id: str, form: FunctionForm) -> FunctionModel:
        valves = (await self._get(function_id)).valves
        kind = _validate(function_id, form.content, valves)
        await begin_write(self.session)
        row = await self._get(function_id)
        row.type = kind
        row.name, row.content, row.meta = form.name, form.content, form.meta
        row.updated_at = max(
            now(), row.updated_at + 1
        )  # the runtime reloads on a changed updated_at
        await self.session.commit()
        await self._changed(function_id)
        return FunctionModel(**_response(row).model_dump(), content=row.content)

    async def toggle(self, function_id: str) -> FunctionResponse:
        await begin_write(self.session)
        row = await self._get(function_id)
        row.is_active = not row.is_active
        row.updated_at = max(now(), row.updated_at + 1)
        await self.session.commit()
        await self._changed(function_id)
        return _response(row)

    async def delete(self, function_id: str) -> bool:
        await begin_write(self.session)
        await self._get(function_id)
        await self.repo.delete(function_id)
        await self.session.commit()
        await self._changed(function_id)
        return True

    async def valves(self, function_id: str) -> dict[str, Any] | None:
        return (await self._get(function_id)).valves

    async def valves_spec(self, function_id: str) -> dict[str, Any] | None:
        row = await self._get(function_id)
        module, kind = loader.load(row.id, row.content)
        cls = getattr(getattr(module, kind.capitalize()), "Valves", None)
        return (
            cls.model_json_schema()
            if cls is not None and hasattr(cls, "model_json_schema")
            else None
        )

    async def update_valves(self, function_id: str, values: dict[str, Any]) -> dict[str, Any]:
        row = await self._get(function_id)
        module, kind = loader.load(row.id, row.content)
        instance = loader.instantiate(module, kind, None)
        if loader.valves_class(instance) is None:
            raise errors.BadRequest("This function has no Valves")
        loader.apply_valves(instance, values)
        dumped = (
            instance.valves.model_dump(mode="json")
            if hasattr(instance.valves, "model_dump")
            else dict(values)
        )
        try:
            json_object(dumped)
        except ValueError as exc:
            raise errors.Unprocessable(f"Valves: {exc}") from exc
        await begin_write(self.session)
        row = await self._get(function_id)
        row.valves = dumped
        row.updated_at = max(now(), row.updated_at + 1)
        await self.session.commit()
        await self._changed(function_id)
        return dumped
