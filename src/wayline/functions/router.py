"""`/api/v1/functions`: admin-only management of function models (listing for verified users)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core import errors
from wayline.core.deps import CoreDep, SessionDep
from wayline.functions.history import FunctionHistoryService
from wayline.functions.schemas import (
    FunctionForm,
    FunctionModel,
    FunctionResponse,
    FunctionVersionForm,
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
    function_id: str, form: FunctionForm, user: AdminUser, service: Service
) -> FunctionModel:
    return await service.update(user, function_id, form)


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


# --- saved versions ---------------------------------------------------------------------------
def _history(session: SessionDep) -> FunctionHistoryService:
    return FunctionHistoryService(session)


History = Annotated[FunctionHistoryService, Depends(_history)]


@router.get("/id/{function_id}/history")
async def history(
    function_id: str, _: AdminUser, versions: History, page: int = Query(1, ge=1, le=100_000)
) -> list[dict[str, Any]]:
    return await versions.page(function_id, page)


@router.get("/id/{function_id}/history/diff")
async def history_diff(
    function_id: str,
    _: AdminUser,
    versions: History,
    from_id: str = Query(min_length=1),
    to_id: str = Query(min_length=1),
) -> dict[str, Any]:
    return await versions.diff(function_id, from_id, to_id)


@router.get("/id/{function_id}/history/{version_id}")
async def history_entry(
    function_id: str, version_id: str, _: AdminUser, versions: History
) -> dict[str, Any]:
    return await versions.entry(function_id, version_id)


@router.delete("/id/{function_id}/history/{version_id}")
async def delete_history_entry(
    function_id: str, version_id: str, _: AdminUser, versions: History
) -> bool:
    return await versions.delete(function_id, version_id)


@router.post("/id/{function_id}/update/version", response_model=FunctionModel)
async def set_version(
    function_id: str, form: FunctionVersionForm, user: AdminUser, service: Service
) -> FunctionModel:
    return await service.set_version(user, function_id, form.version_id)
