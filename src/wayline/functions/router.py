"""`/api/v1/functions`: admin-only management of function models (listing for verified users)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core import errors
from wayline.core.deps import CoreDep, SessionDep
from wayline.functions.schemas import FunctionForm, FunctionModel, FunctionResponse
from wayline.functions.service import FunctionService

router = APIRouter(prefix="/api/v1/functions", tags=["functions"])


def _service(core: CoreDep, session: SessionDep) -> FunctionService:
    return FunctionService(session, core.bus)


Service = Annotated[FunctionService, Depends(_service)]


@router.get("/", response_model=list[FunctionResponse])
async def list_functions(_: VerifiedUser, service: Service) -> list[FunctionResponse]:
    return await service.list()


@router.get("/list", response_model=list[FunctionResponse])
async def list_all(_: AdminUser, service: Service) -> list[FunctionResponse]:
    return await service.list()


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
    if not isinstance(values, dict):
        raise errors.BadRequest("Valves must be a JSON object")
    return await service.update_valves(function_id, values)
