"""Workspace models (presets over a base model, or admin overrides of one).

Every write is one transaction started with `begin_write` before its first read, so the
checks and the write see the same state; the model list is consulted before it (a refresh may
wait on upstreams, which must not happen while holding SQLite's write lock).
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.bus import Bus
from wayline.core.clock import now
from wayline.core.db import begin_write
from wayline.core.grants import group_ids_of
from wayline.models import history
from wayline.models.catalog import Catalog
from wayline.models.listing import OWNER_FIELDS, PAGE_SIZE, ListOptions
from wayline.models.repository import MODELS_CHANGED, ModelRepository
from wayline.models.schemas import (
    ModelAccessForm,
    ModelForm,
    ModelListResponse,
    ModelRecord,
    ModelResponse,
)
from wayline.models.tables import ModelRow
from wayline.users.group_service import check_grant_targets
from wayline.users.repository import UserRepository
from wayline.users.schemas import UserInfo

ID_TAKEN = "Uh-oh! This id is already registered. Please choose another id string."


def base_id_taken(model_id: str, base_id: str) -> errors.Conflict:
    named = (
        f"'{base_id}'" if base_id == model_id else f"'{base_id}' (which '{model_id}' also names)"
    )
    return errors.Conflict(
        f"Model id '{model_id}' belongs to the base model {named}: only an admin may create a "
        "model with that id (it would replace the base model for the users it is shared with); "
        "choose another id"
    )


class ModelService:
    def __init__(self, session: AsyncSession, catalog: Catalog, bus: Bus) -> None:
        self.session = session
        self.repo = ModelRepository(session)
        self.catalog = catalog
        self.bus = bus

    async def _changed(self) -> None:
        await self.bus.publish(MODELS_CHANGED, {})

    async def _response(self, row: ModelRow, write: bool) -> ModelResponse:
        """A read-only caller gets no `params` (the system prompt and the rest of the curated
        configuration), as Open WebUI: they may use the model, not copy it."""
        return ModelResponse(
            version_id=row.version_id,
            id=row.id,
            user_id=row.user_id,
            base_model_id=row.base_model_id,
            name=row.name,
            params=(row.params or {}) if write else {},
            meta=row.meta or {},
            access_grants=await self.repo.grants(row.id),
            is_active=row.is_active,
            created_at=row.created_at,
            updated_at=row.updated_at,
            write_access=write,
        )

    async def _check_id(self, user: UserInfo, form: ModelForm) -> None:
        """Only an admin may give a row the id of a base model, exactly or through `:latest`
        (Open WebUI's "override a base model"); anyone else could hijack it for others."""
        base_id = await self.catalog.base_model_named(form.id)
        if base_id is not None and not user.is_admin:
            raise base_id_taken(form.id, base_id)

    async def _check_base(self, user: UserInfo, form: ModelForm) -> None:
        if form.base_model_id is None:
            # An override of a base model: admins only, and the base must exist.
            if not user.is_admin:
                raise errors.BadRequest(
                    "'base_model_id' is required: only admins may override a base model"
                )
            if not await self.catalog.has_model(form.id):
                raise errors.NotFound(errors.model_not_found(form.id))
            return
        if form.base_model_id == form.id:
            raise errors.BadRequest("A model cannot be its own base model")
        if not await self.catalog.usable_by(form.base_model_id, user):
            raise errors.NotFound(errors.model_not_found(form.base_model_id))

    async def _base_allowed(self, user: UserInfo, form: ModelForm) -> errors.WaylineError | None:
        try:
            await self._check_base(user, form)
        except errors.WaylineError as exc:
            return exc
        return None

    async def create(self, user: UserInfo, form: ModelForm) -> ModelResponse:
        await self._check_id(user, form)
        await self._check_base(user, form)
        await begin_write(self.session)
        if await self.repo.exists(form.id):
            raise errors.BadRequest(ID_TAKEN)
        await check_grant_targets(self.session, group_ids_of(form.access_grants))
        ts = now()
        row = ModelRow(
            id=form.id,
            user_id=user.id,
            base_model_id=form.base_model_id,
            name=form.name,
            params=form.params,
            meta=form.meta,
            is_active=form.is_active,
            created_at=ts,
            updated_at=ts,
        )
        self.repo.add(row)
        try:
            await self.session.flush()
            await self.repo.set_grants(row.id, [g.model_dump() for g in form.access_grants or []])
            await history.record(self.session, row, None, user.id, form.commit_message)
            await self.session.commit()
        except IntegrityError:
            await self.session.rollback()
            if await self.repo.exists(
                form.id
            ):  # a concurrent create of the same id won (PostgreSQL)
                raise errors.BadRequest(ID_TAKEN) from None
            raise
        await self._changed()
        return await self._response(row, True)

    async def list(self, user: UserInfo, options: ListOptions | None = None) -> ModelListResponse:
        """Open WebUI's workspace list: the presets `user` may read, filtered, sorted, a page at
        a time (`PAGE_SIZE`); `total` counts every match. Base-model rows are `/base`'s."""
        options = options or ListOptions()
        rows = [
            (row, w)
            for row, w in await self.repo.list_readable(user)
            if row.base_model_id is not None and options.matches(row, user.id)
        ]
        rows = options.sorted(rows)
        start = (options.page - 1) * PAGE_SIZE
        shown = rows[start : start + PAGE_SIZE]
        owners = await UserRepository(self.session).infos(sorted({r.user_id for r, _ in shown}))
        items = []
        for row, write in shown:
            owner = owners.get(row.user_id)
            user_info = {k: getattr(owner, k) for k in OWNER_FIELDS} if owner else None
            item = (await self._response(row, write)).model_dump()
            items.append(ModelResponse(**item, user=user_info))
        return ModelListResponse(items=items, total=len(rows))

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
        # The list is read before the write lock (the checks below are pure reads of it).
        base_allowed = await self._base_allowed(user, form)
        await begin_write(self.session)
        row = await self._get(user, model_id, write=True)
        if form.id != model_id:
            raise errors.BadRequest("The model id cannot be changed")
        if form.base_model_id != row.base_model_id and base_allowed is not None:
            raise base_allowed
        before = history.snapshot(row)
        row.base_model_id, row.name, row.params, row.meta = (
            form.base_model_id,
            form.name,
            form.params,
            form.meta,
        )
        row.is_active, row.updated_at = form.is_active, now()
        if form.access_grants is not None:
            await check_grant_targets(self.session, group_ids_of(form.access_grants))
            await self.repo.set_grants(row.id, [g.model_dump() for g in form.access_grants])
        await history.record(self.session, row, before, user.id, form.commit_message)
        await self.session.commit()
        await self._changed()
        return await self._response(row, True)

    async def toggle(self, user: UserInfo, model_id: str) -> ModelResponse:
        await begin_write(self.session)
        row = await self._get(user, model_id, write=True)
        row.is_active, row.updated_at = not row.is_active, now()
        await self.session.commit()
        await self._changed()
        return await self._response(row, True)

    async def delete(self, user: UserInfo, model_id: str) -> bool:
        await begin_write(self.session)
        await self._get(user, model_id, write=True)
        await self.repo.delete(model_id)
        await self.session.commit()
        await self._changed()
        return True

    async def update_access(self, user: UserInfo, form: ModelAccessForm) -> ModelRecord:
        """Replace a model's grants. A base model without a row gets one (an admin's override
        with no changes), so that who may use it can be set, as Open WebUI."""
        listed = await self.catalog.has_model(form.id)  # before the write lock
        await begin_write(self.session)
        if await self.repo.exists(form.id):
            row = await self._get(user, form.id, write=True)
        elif not user.is_admin:
            raise errors.Forbidden(errors.ACCESS_PROHIBITED)
        elif not listed:
            raise errors.NotFound(errors.model_not_found(form.id))
        else:
            ts = now()
            row = ModelRow(
                id=form.id,
                user_id=user.id,
                base_model_id=None,
                name=form.name or form.id,
                params={},
                meta={},
                is_active=True,
                created_at=ts,
                updated_at=ts,
            )
            self.repo.add(row)
            await history.record(self.session, row, None, user.id)
        await check_grant_targets(self.session, group_ids_of(form.access_grants))
        await self.repo.set_grants(row.id, [g.model_dump() for g in form.access_grants])
        row.updated_at = now()
        try:
            await self.session.commit()
        except IntegrityError:  # a concurrent first grant for the same base model won
            await self.session.rollback()
            raise errors.Conflict(f"Model '{form.id}' was changed meanwhile; try again") from None
        await self._changed()
        record = (await self._response(row, True)).model_dump(exclude={"write_access"})
        return ModelRecord.model_validate(record)

    async def profile_image_url(self, user: UserInfo, model_id: str) -> str | None:
        """`meta.profile_image_url` of a model `user` may read; None for any other id, so that
        ids of models they may not see cannot be probed."""
        found = await self.repo.get_readable(user, model_id)
        url = (found[0].meta or {}).get("profile_image_url") if found else None
        return url if isinstance(url, str) and url else None
