"""`/api/v1/functions`: admin-only management of function models (listing for verified users)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core import errors
from wayline.core.deps import CoreDep, SessionDep
from wayline.functions.schemas import (
    FunctionForm,
    FunctionModel,
    FunctionResponse,
    FunctionWithValves,
    SyncFunctionsForm,
)
from wayline.functions.service import FunctionService

router = APIRouter(prefix="/api/v1/functions", tags=["functions"])


def _service(core: CoreDep, session: SessionDep) -> FunctionService:
    return FunctionService(session, core.bus)


Service = Annotated[FunctionService, Depends(_service)]


def _object(values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise errors.BadRequest("Valves must be a JSON object")
    return values


@router.get("/", response_model=list[FunctionResponse])
async def list_functions(_: VerifiedUser, service: Service) -> list[FunctionResponse]:
    return await service.list()


@router.get("/list", response_model=list[FunctionResponse])
async def list_all(_: AdminUser, service: Service) -> list[FunctionResponse]:
    return await service.list()


@router.get("/export", response_model=list[FunctionWithValves] | list[FunctionModel])
async def export(
    _: AdminUser, service: Service, include_valves: bool = False
) -> list[FunctionModel] | list[FunctionWithValves]:
    return await service.export(include_valves)


@router.post("/sync", response_model=list[FunctionWithValves])
async def sync(
    form: SyncFunctionsForm, user: AdminUser, service: Service
) -> list[FunctionWithValves]:
    return await service.sync(user, form.functions)


@router.post("/create", response_model=FunctionResponse)
async def create(form: FunctionForm, user: AdminUser, service: Service) -> FunctionResponse:
    return await service.create(user, form)


@router.get("/id/{function_id}", response_model=FunctionModel)
async def get(function_id: str, _: AdminUser, service: Service) -> FunctionModel:
    return await service.get(function_id)


@router.post("/id/{function_id}/update", response_model=FunctionModel)
async def update(
    function_id: str, form: FunctionForm, _: AdminUser, service: Service
) -> FunctionModel:
    return await service.update(function_id, form)


@router.post("/id/{function_id}/toggle", response_model=FunctionResponse)
async def toggle(function_id: str, _: AdminUser, service: Service) -> FunctionResponse:
    return await service.toggle(function_id)


@router.post("/id/{function_id}/toggle/global", response_model=FunctionModel)
async def toggle_global(function_id: str, _: AdminUser, service: Service) -> FunctionModel:
    return await service.toggle_global(function_id)


@router.delete("/id/{function_id}/delete")
async def delete(function_id: str, _: AdminUser, service: Service) -> bool:
    return await service.delete(function_id)


@router.get("/id/{function_id}/valves")
async def valves(function_id: str, _: AdminUser, service: Service) -> dict[str, Any] | None:
    return await service.valves(function_id)


@router.get("/id/{function_id}/valves/spec")
async def valves_spec(function_id: str, _: AdminUser, service: Service) -> dict[str, Any] | None:
    return await service.valves_spec(function_id)


@router.post("/id/{function_id}/valves/update")
async def update_valves(
    function_id: str, _: AdminUser, service: Service, values: Any = Body(...)
) -> dict[str, Any]:
    return await service.update_valves(function_id, _object(values))


@router.get("/id/{function_id}/valves/user")
async def user_valves(
    function_id: str, user: VerifiedUser, service: Service
) -> dict[str, Any] | None:
    """The caller's own values (nobody else's)."""
    return await service.user_valves(function_id, user)


@router.get("/id/{function_id}/valves/user/spec")
async def user_valves_spec(
    function_id: str, _: VerifiedUser, service: Service
) -> dict[str, Any] | None:
    return await service.user_valves_spec(function_id)


@router.post("/id/{function_id}/valves/user/update")
async def update_user_valves(
    function_id: str, user: VerifiedUser, service: Service, values: Any = Body(...)
) -> dict[str, Any]:
    return await service.update_user_valves(function_id, user, _object(values))
