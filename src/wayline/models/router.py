"""Workspace model CRUD under `/api/v1/models` (the merged list, `GET /api/models`, is the
providers' `providers/router.py`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from starlette.responses import Response

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core import errors
from wayline.core.deps import SessionDep, StateDep
from wayline.models.bulk import ModelBulkService
from wayline.models.catalog import CATALOG
from wayline.models.history import ModelHistoryService
from wayline.models.images import profile_image_response
from wayline.models.listing import ListOptions
from wayline.models.schemas import (
    ModelAccessForm,
    ModelForm,
    ModelIdForm,
    ModelListResponse,
    ModelRecord,
    ModelResponse,
    ModelsImportForm,
    ModelVersionForm,
    SyncModelsForm,
)
from wayline.models.service import ModelService

router = APIRouter(tags=["models"])


def _service(session: SessionDep, state: StateDep) -> ModelService:
    return ModelService(session, state.get(CATALOG), state.core.bus)


Service = Annotated[ModelService, Depends(_service)]


def _bulk(session: SessionDep, state: StateDep) -> ModelBulkService:
    return ModelBulkService(session, state.get(CATALOG), state.core.bus)


Bulk = Annotated[ModelBulkService, Depends(_bulk)]


@router.get("/api/v1/models/list", response_model=ModelListResponse)
async def list_workspace_models(
    user: VerifiedUser,
    service: Service,
    query: str | None = Query(None, max_length=1000),
    view_option: Literal["created", "shared"] | None = None,
    tag: str | None = Query(None, max_length=255),
    order_by: Literal["name", "created_at", "updated_at"] | None = None,
    direction: Literal["asc", "desc"] | None = None,
    page: int = Query(1, ge=1, le=100_000),
) -> ModelListResponse:
    options = ListOptions(query, view_option, tag, order_by, direction, page)
    return await service.list(user, options)


@router.post("/api/v1/models/create", response_model=ModelResponse)
async def create_model(form: ModelForm, user: VerifiedUser, service: Service) -> ModelResponse:
    return await service.create(user, form)


@router.get("/api/v1/models/model", response_model=ModelResponse)
async def get_model(
    user: VerifiedUser, service: Service, id: str = Query(min_length=1)
) -> ModelResponse:
    return await service.get(user, id)


@router.post("/api/v1/models/model/update", response_model=ModelResponse)
async def update_model(
    form: ModelForm, user: VerifiedUser, service: Service, id: str | None = None
) -> ModelResponse:
    return await service.update(user, id or form.id, form)


@router.post("/api/v1/models/model/toggle", response_model=ModelResponse)
async def toggle_model(
    user: VerifiedUser, service: Service, id: str = Query(min_length=1)
) -> ModelResponse:
    return await service.toggle(user, id)


@router.post("/api/v1/models/model/delete")
@router.delete("/api/v1/models/model/delete")
async def delete_model(
    user: VerifiedUser,
    service: Service,
    id: str | None = None,
    form: ModelIdForm | None = Body(None),
) -> bool:
    model_id = id or (form.id if form else None)
    if not model_id:
        raise errors.BadRequest('Give the model id as ?id= or in the body as {"id": ...}')
    return await service.delete(user, model_id)


# --- Open WebUI's whole-collection routes ------------------------------------------------------
@router.get("/api/v1/models/all", response_model=list[ModelRecord])
async def all_models(_: AdminUser, bulk: Bulk) -> list[ModelRecord]:
    """Every workspace row, presets and base-model overrides alike."""
    return await bulk.all()


@router.get("/api/v1/models/base", response_model=list[ModelRecord])
async def base_models(_: AdminUser, bulk: Bulk, tag: str | None = None) -> list[ModelRecord]:
    """The rows that stand in for a base model (admins' overrides)."""
    return await bulk.base(tag)


@router.get("/api/v1/models/base/tags")
async def base_model_tags(user: AdminUser, bulk: Bulk) -> list[str]:
    return await bulk.tags(user, presets=False)


@router.get("/api/v1/models/tags")
async def model_tags(user: VerifiedUser, bulk: Bulk) -> list[str]:
    """The tags of the presets the caller may read."""
    return await bulk.tags(user, presets=True)


@router.get("/api/v1/models/export", response_model=list[ModelRecord])
async def export_models(
    user: VerifiedUser, bulk: Bulk, ids: list[str] | None = Query(None)
) -> list[ModelRecord]:
    return await bulk.export(user, ids)


@router.post("/api/v1/models/import")
async def import_models(form: ModelsImportForm, user: VerifiedUser, bulk: Bulk) -> bool:
    return await bulk.import_(user, form.models)


@router.post("/api/v1/models/sync", response_model=list[ModelRecord])
async def sync_models(form: SyncModelsForm, user: AdminUser, bulk: Bulk) -> list[ModelRecord]:
    return await bulk.sync(user, form.models)


@router.delete("/api/v1/models/delete/all")
async def delete_all_models(_: AdminUser, bulk: Bulk) -> bool:
    return await bulk.delete_all()


@router.post("/api/v1/models/model/access/update", response_model=ModelRecord)
async def update_model_access(
    form: ModelAccessForm, user: VerifiedUser, service: Service
) -> ModelRecord:
    return await service.update_access(user, form)


@router.get("/api/v1/models/model/profile/image", response_model=None)
async def model_profile_image(
    user: VerifiedUser, service: Service, id: str = Query(min_length=1)
) -> Response:
    return profile_image_response(id, await service.profile_image_url(user, id))


# --- saved versions ------------------------------------------------------------------------------
def _history(session: SessionDep, state: StateDep) -> ModelHistoryService:
    return ModelHistoryService(session, state.get(CATALOG), state.core.bus)


History = Annotated[ModelHistoryService, Depends(_history)]


@router.get("/api/v1/models/model/history")
async def model_history(
    user: VerifiedUser,
    versions: History,
    id: str = Query(min_length=1),
    page: int = Query(1, ge=1, le=100_000),
) -> list[dict[str, Any]]:
    return await versions.page(user, id, page)


@router.get("/api/v1/models/model/history/{version_id}")
async def model_history_entry(
    version_id: str, user: VerifiedUser, versions: History, id: str = Query(min_length=1)
) -> dict[str, Any]:
    return await versions.entry(user, id, version_id)


@router.delete("/api/v1/models/model/history/{version_id}")
async def delete_model_history_entry(
    version_id: str, user: VerifiedUser, versions: History, id: str = Query(min_length=1)
) -> bool:
    return await versions.delete(user, id, version_id)


@router.post("/api/v1/models/model/update/version", response_model=ModelRecord)
async def set_model_version(
    form: ModelVersionForm, user: VerifiedUser, versions: History, id: str = Query(min_length=1)
) -> ModelRecord:
    return await versions.restore(user, id, form.version_id)
