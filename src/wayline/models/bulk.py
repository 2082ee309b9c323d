"""Open WebUI's whole-collection model routes: every row, the base-model rows, tags, export,
import, sync and delete-all.

Import and sync are each one unit of work: every entry is checked (its form, who may write it,
its base model) before anything is written, and all of it is written in one transaction, so a
bad entry answers 4xx naming it and changes nothing. The model list is consulted before the
write transaction opens (a refresh may wait on upstreams, which must not happen while holding
SQLite's write lock).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.bus import Bus
from wayline.core.clock import now
from wayline.core.db import begin_write
from wayline.core.grants import group_ids_of
from wayline.models import history
from wayline.models.catalog import Catalog
from wayline.models.listing import tag_names
from wayline.models.repository import MODELS_CHANGED, ModelRepository
from wayline.models.schemas import ModelForm, ModelRecord, ModelSyncItem
from wayline.models.service import ID_TAKEN, base_id_taken
from wayline.models.tables import ModelRow
from wayline.users.group_service import check_grant_targets
from wayline.users.schemas import UserInfo

# The fields of a row an import entry may leave out (kept from the row it updates).
_KEPT = ("base_model_id", "name", "params", "meta", "is_active")


def _unique(ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for model_id in ids:
        if model_id in seen:
            raise errors.BadRequest(f"Model id '{model_id}' is listed twice")
        seen.add(model_id)


def _form(index: int, data: dict[str, Any]) -> ModelForm:
    try:
        return ModelForm.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise errors.BadRequest(
            f"models[{index}] ('{data.get('id')}'): invalid '{where}': {first['msg']}"
        ) from exc


def _healed(entry: dict[str, Any]) -> dict[str, Any]:
    """A model naming itself as its base is an override of that base (Open WebUI heals it)."""
    if entry.get("base_model_id") == entry.get("id"):
        return {**entry, "base_model_id": None}
    return entry


class ModelBulkService:
    def __init__(self, session: AsyncSession, catalog: Catalog, bus: Bus) -> None:
        self.session = session
        self.repo = ModelRepository(session)
        self.catalog = catalog
        self.bus = bus

    async def _records(self, rows: list[ModelRow]) -> list[ModelRecord]:
        grants = await self.repo.grants_map([row.id for row in rows])
        return [
            ModelRecord(
                version_id=row.version_id,
                id=row.id,
                user_id=row.user_id,
                base_model_id=row.base_model_id,
                name=row.name,
                params=row.params or {},
                meta=row.meta or {},
                access_grants=grants[row.id],
                is_active=row.is_active,
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
            for row in rows
        ]

    async def _changed(self) -> None:
        await self.bus.publish(MODELS_CHANGED, {})

    # --- reads ----------------------------------------------------------------------------
    async def all(self) -> list[ModelRecord]:
        return await self._records(await self.repo.list_rows())

    async def base(self, tag: str | None) -> list[ModelRecord]:
        rows = await self.repo.list_rows(presets=False)
        return await self._records([r for r in rows if tag is None or tag in tag_names(r.meta)])

    async def tags(self, user: UserInfo, presets: bool) -> list[str]:
        """The tags of the rows `user` may read (an admin: every row)."""
        rows = await self.repo.list_rows(presets=presets, readable_by=user)
        return sorted(set().union(*(tag_names(row.meta) for row in rows)))

    async def export(self, user: UserInfo, ids: list[str] | None) -> list[ModelRecord]:
        """The presets `user` may write (an admin: all of them); naming one they may not export
        is refused whole, as Open WebUI."""
        rows = await self.repo.list_rows(presets=True, writable_by=user, ids=ids)
        if ids is not None and set(ids) != {row.id for row in rows}:
            missing = sorted(set(ids) - {row.id for row in rows})
            raise errors.Forbidden(f"Model '{missing[0]}' cannot be exported by you")
        return await self._records(rows)

    # --- import -----------------------------------------------------------------------------
    async def import_(self, user: UserInfo, entries: list[dict[str, Any]]) -> bool:
        entries = [_healed(entry) for entry in entries]
        for index, entry in enumerate(entries):
            if not isinstance(entry.get("id"), str) or not entry["id"]:
                raise errors.BadRequest(f"models[{index}]: 'id' is required")
        ids = [entry["id"] for entry in entries]
        _unique(ids)
        # The model list's answers, read before the write lock.
        base_of = {i: await self.catalog.base_model_named(i) for i in ids}
        listed = {i: await self.catalog.has_model(i) for i in ids}
        bases = {e["base_model_id"] for e in entries if isinstance(e.get("base_model_id"), str)}
        usable = {b: await self.catalog.usable_by(b, user) for b in bases}

        await begin_write(self.session)
        existing = await self.repo.rows_by_id(ids, user)
        plans: list[tuple[ModelForm, ModelRow | None, bool]] = []
        for index, entry in enumerate(entries):
            found = existing.get(entry["id"])
            row = found[0] if found else None
            if found is not None and not found[1]:
                raise errors.Unauthorized(f"{ID_TAKEN} ('{entry['id']}' is not yours to replace)")
            if row is None:
                data = {**entry, "meta": entry.get("meta") or {}, "params": entry.get("params")}
            else:
                kept = {key: getattr(row, key) for key in _KEPT}
                data = {**kept, **entry, "meta": {**(row.meta or {}), **(entry.get("meta") or {})}}
                if not user.is_admin and row.base_model_id and not data["base_model_id"]:
                    raise errors.BadRequest(
                        f"models[{index}] ('{row.id}'): only an admin may clear a base model"
                    )
            form = _form(index, {**data, "params": data.get("params") or {}})
            if row is None or form.base_model_id != row.base_model_id:
                self._check_base(user, form, base_of, listed, usable, new=row is None)
            grants = "access_grants" in entry and form.access_grants is not None
            plans.append((form, row, grants))
        for form, _, grants in plans:
            if grants:
                await check_grant_targets(self.session, group_ids_of(form.access_grants))
        ts = now()
        for form, row, grants in plans:
            before = None if row is None else history.snapshot(row)
            if row is None:
                row = ModelRow(id=form.id, user_id=user.id, created_at=ts)
                self.repo.add(row)
            row.base_model_id, row.name, row.params, row.meta = (
                form.base_model_id,
                form.name,
                form.params,
                form.meta,
            )
            row.is_active, row.updated_at = form.is_active, ts
            if grants:
                await self.repo.set_grants(
                    row.id, [g.model_dump() for g in form.access_grants or []]
                )
            await history.record(self.session, row, before, user.id, form.commit_message)
        await self._commit()
        await self._changed()
        return True

    @staticmethod
    def _check_base(
        user: UserInfo,
        form: ModelForm,
        base_of: dict[str, str | None],
        listed: dict[str, bool],
        usable: dict[str, bool],
        *,
        new: bool,
    ) -> None:
        """The create and update rules of `ModelService`, on answers read before the write."""
        if new and not user.is_admin and base_of[form.id] is not None:
            raise base_id_taken(form.id, base_of[form.id] or form.id)
        if form.base_model_id is None:
            if not user.is_admin:
                raise errors.BadRequest(
                    f"'{form.id}': 'base_model_id' is required: only admins may override a base "
                    "model"
                )
            if not listed[form.id]:
                raise errors.NotFound(errors.model_not_found(form.id))
        elif not usable[form.base_model_id]:
            raise errors.NotFound(errors.model_not_found(form.base_model_id))

    async def _commit(self) -> None:
        try:
            await self.session.commit()
        except IntegrityError:  # a concurrent create of one of the ids won (PostgreSQL)
            await self.session.rollback()
            raise errors.BadRequest(ID_TAKEN) from None

    # --- sync and delete-all (admins) -------------------------------------------------------
    async def sync(self, admin: UserInfo, items: Sequence[ModelSyncItem]) -> list[ModelRecord]:
        """Make the listed models the whole set: each created or replaced (owned by the admin),
        every row not listed deleted with its grants. Grants are written for new rows only, as
        Open WebUI; an existing row keeps its own."""
        forms = [ModelSyncItem.model_validate(_healed(item.model_dump())) for item in items]
        ids = [form.id for form in forms]
        _unique(ids)
        for form in forms:
            found = (
                await self.catalog.has_model(form.id)
                if form.base_model_id is None
                else await self.catalog.usable_by(form.base_model_id, admin)
            )
            if not found:
                raise errors.NotFound(errors.model_not_found(form.base_model_id or form.id))

        await begin_write(self.session)
        existing = {row.id: row for row in await self.repo.list_rows()}
        new = [form for form in forms if form.id not in existing]
        for form in new:
            await check_grant_targets(self.session, group_ids_of(form.access_grants))
        ts = now()
        for form in forms:
            row = existing.get(form.id)
            before = None if row is None else history.snapshot(row)
            if row is None:
                row = ModelRow(id=form.id, created_at=form.created_at or ts)
                self.repo.add(row)
            elif form.created_at is not None:
                row.created_at = form.created_at
            row.user_id, row.base_model_id, row.name = admin.id, form.base_model_id, form.name
            row.params, row.meta, row.is_active, row.updated_at = (
                form.params,
                form.meta,
                form.is_active,
                ts,
            )
            await history.record(self.session, row, before, admin.id, form.commit_message)
        await self.session.flush()
        for form in new:
            await self.repo.set_grants(form.id, [g.model_dump() for g in form.access_grants or []])
        await self.repo.delete_many(sorted(set(existing) - set(ids)))
        await self._commit()
        await self._changed()
        return await self._records(await self.repo.list_rows())

    async def delete_all(self) -> bool:
        await begin_write(self.session)
        await self.repo.delete_many([row.id for row in await self.repo.list_rows()])
        await self.session.commit()
        await self._changed()
        return True
