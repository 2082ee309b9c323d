"""Function CRUD: every write re-validates the source by loading it (admin-only, see loader.py).

The source is loaded before the write transaction opens (`begin_write`), so SQLite's write
lock is never held while admin code is imported."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.bus import Bus
from wayline.core.clock import now
from wayline.core.db import Database, begin_write
from wayline.core.storable import json_object
from wayline.functions import history, loader
from wayline.functions.repository import FunctionRepository
from wayline.functions.schemas import (
    FunctionForm,
    FunctionModel,
    FunctionResponse,
    FunctionSyncItem,
    FunctionWithValves,
)
from wayline.functions.tables import FunctionRow
from wayline.users.schemas import UserInfo

log = logging.getLogger("wayline.functions")

ID_TAKEN = "Uh-oh! This id is already registered. Please choose another id string."


def _response(row: FunctionRow) -> FunctionResponse:
    return FunctionResponse(
        version_id=row.version_id,
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


def _model(row: FunctionRow) -> FunctionModel:
    return FunctionModel(**_response(row).model_dump(), content=row.content)


def _with_valves(row: FunctionRow) -> FunctionWithValves:
    return FunctionWithValves(**_model(row).model_dump(), valves=row.valves)


def _bump(row: FunctionRow) -> None:
    """A new `updated_at`: the runtime reloads a function whose `updated_at` changed."""
    row.updated_at = max(now(), row.updated_at + 1)


def _checked_valves(cls: Any, values: dict[str, Any], what: str) -> dict[str, Any]:
    """`values` through the function's valves class (nulls dropped, as Open WebUI), as stored."""
    try:
        valves = cls(**{k: v for k, v in values.items() if v is not None})
        dumped: dict[str, Any] = valves.model_dump(mode="json", exclude_unset=True)
        return json_object(dumped)
    except Exception as exc:
        raise errors.BadRequest(f"Invalid {what}: {exc}") from exc


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
            # Recording the version flushes the row: a concurrent create of the same id can
            # fail here on PostgreSQL, not only at the commit.
            await history.record(self.session, row, None, user.id, form.commit_message)
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

    async def update(self, user: UserInfo, function_id: str, form: FunctionForm) -> FunctionModel:
        valves = (await self._get(function_id)).valves
        kind = _validate(function_id, form.content, valves)
        await begin_write(self.session)
        row = await self._get(function_id)
        before = history.snapshot(row.name, row.content, row.meta)
        row.type = kind
        row.name, row.content, row.meta = form.name, form.content, form.meta
        await history.record(self.session, row, before, user.id, form.commit_message)
        _bump(row)  # the runtime reloads on a changed updated_at
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

    # --- Open WebUI's headless extras -------------------------------------------------------
    async def export(
        self, include_valves: bool
    ) -> builtins.list[FunctionModel] | builtins.list[FunctionWithValves]:
        rows = await self.repo.list()
        if include_valves:
            return [_with_valves(row) for row in rows]
        return [_model(row) for row in rows]

    async def sync(
        self, user: UserInfo, items: Sequence[FunctionSyncItem]
    ) -> builtins.list[FunctionWithValves]:
        """Make the listed functions the whole set: each created or replaced (owned by the admin
        who syncs), every function not listed deleted. Every source and its valves are checked
        before the write; one bad function refuses the sync, naming it, and changes nothing."""
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise errors.BadRequest(f"Function id '{twice[0]}' is listed twice")
        kinds: dict[str, str] = {}
        for item in items:
            try:
                kinds[item.id] = _validate(item.id, item.content, item.valves)
            except errors.WaylineError as exc:
                raise errors.BadRequest(f"Function '{item.id}': {exc.detail}") from exc
        await begin_write(self.session)
        existing = {row.id: row for row in await self.repo.list()}
        for item in items:
            row = existing.get(item.id)
            before = None
            if row is None:
                ts = now()
                row = FunctionRow(id=item.id, created_at=item.created_at or ts, updated_at=ts)
                self.repo.add(row)
            else:
                before = history.snapshot(row.name, row.content, row.meta)
                _bump(row)
            row.user_id, row.name, row.type = user.id, item.name, kinds[item.id]
            row.content, row.meta, row.valves = item.content, item.meta, item.valves
            row.is_active, row.is_global = item.is_active, item.is_global
            await history.record(self.session, row, before, user.id, item.commit_message)
        gone = sorted(set(existing) - set(ids))
        await self.repo.delete_many(gone)
        await self.session.commit()
        for function_id in sorted({*ids, *gone}):
            await self._changed(function_id)
        return [_with_valves(row) for row in await self.repo.list()]

    async def toggle_global(self, function_id: str) -> FunctionModel:
        await begin_write(self.session)
        row = await self._get(function_id)
        row.is_global = not row.is_global
        _bump(row)
        await self.session.commit()
        await self._changed(function_id)
        return _model(row)

    async def set_version(self, user: UserInfo, function_id: str, version_id: str) -> FunctionModel:
        """Make a saved version current again: its name, source and metadata are copied back
        (checked as a new write would be), and no new version is saved."""
        row = await self._get(function_id)
        saved = (await history.versions(self.session).get(function_id, version_id)).snapshot
        try:
            form = FunctionForm.model_validate({**saved, "id": function_id})
        except ValidationError as exc:
            raise errors.BadRequest(f"Version '{version_id}' cannot be restored: {exc}") from exc
        kind = _validate(function_id, form.content, row.valves)
        await begin_write(self.session)
        row = await self._get(function_id)
        await history.versions(self.session).get(function_id, version_id)  # deleted meanwhile: 404
        row.type, row.name, row.content, row.meta = kind, form.name, form.content, form.meta
        row.version_id = version_id
        _bump(row)
        await self.session.commit()
        await self._changed(function_id)
        return _model(row)

    # --- each user's own valves ------------------------------------------------------------
    async def user_valves(self, function_id: str, user: UserInfo) -> dict[str, Any] | None:
        await self._get(function_id)
        return await self.repo.user_valves(function_id, user.id)

    async def user_valves_spec(self, function_id: str) -> dict[str, Any] | None:
        row = await self._get(function_id)
        if not row.is_active:
            return None  # as Open WebUI: an inactive function offers no settings
        cls = loader.user_valves_class(*loader.load(row.id, row.content))
        return cls.model_json_schema() if hasattr(cls, "model_json_schema") else None

    async def update_user_valves(
        self, function_id: str, user: UserInfo, values: dict[str, Any]
    ) -> dict[str, Any]:
        row = await self._get(function_id)
        if not row.is_active:
            raise errors.BadRequest(f"Function '{function_id}' is not active")
        cls = loader.user_valves_class(*loader.load(row.id, row.content))
        if cls is None:
            raise errors.BadRequest(f"Function '{function_id}' has no UserValves")
        dumped = _checked_valves(cls, values, "user valves")
        await begin_write(self.session)
        await self._get(function_id)  # deleted meanwhile: 404, not a dangling row
        await self.repo.set_user_valves(function_id, user.id, dumped)
        await self.session.commit()
        return dumped


async def user_valves_arg(db: Database, instance: Any, function_id: str, user_id: str) -> Any:
    """`__user__["valves"]` for a call of a pipe: the caller's own values in its `UserValves`
    class (defaults where unset), or None when the pipe declares none."""
    cls = getattr(type(instance), "UserValves", None)
    if cls is None:
        return None
    async with db.sessionmaker() as session:
        stored = await FunctionRepository(session).user_valves(function_id, user_id)
    try:
        return cls(**(stored or {}))
    except Exception as exc:  # the class changed since they were saved: defaults, not a failure
        log.warning("user valves of %s for %s no longer fit: %s", function_id, user_id, exc)
        return cls()
