"""Workspace model CRUD under `/api/v1/models` (the merged list, `GET /api/models`, is the
providers' `providers/router.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query

from wayline.auth.deps import VerifiedUser
from wayline.core import errors
from wayline.core.deps import SessionDep, StateDep
from wayline.models.catalog import CATALOG
from wayline.models.schemas import ModelForm, ModelIdForm, ModelListResponse, ModelResponse
from wayline.models.service import ModelService

router = APIRouter(tags=["models"])


def _service(session: SessionDep, state: StateDep) -> ModelService:
    return ModelService(session, state.get(CATALOG), state.core.bus)


Service = Annotated[ModelService, Depends(_service)]


@router.get("/api/v1/models/list", response_model=ModelListResponse)
async def list_workspace_models(user: VerifiedUser, service: Service) -> ModelListResponse:
    return await service.list(user)


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
