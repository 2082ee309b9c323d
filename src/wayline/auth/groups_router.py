"""`/api/v1/groups`: Open WebUI's user groups. Admins manage them; a signed-in user lists the groups
they belong to (or, with `?share=true`, those they may name in a grant) and reads any group's
public info. Unknown ids are 404 naming the group. The access preview
(`/id/{id}/preview`) is served by `system.preview_router`, which can read models and collections.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core.deps import CoreDep, SessionDep
from wayline.users.group_schemas import (
    GroupExportResponse,
    GroupForm,
    GroupInfoResponse,
    GroupMembersResponse,
    GroupResponse,
    UserIdsForm,
)
from wayline.users.group_service import GroupService
from wayline.users.schemas import UserInfoResponse

router = APIRouter(prefix="/api/v1/groups", tags=["groups"])


def _service(session: SessionDep, core: CoreDep) -> GroupService:
    return GroupService(session, core.bus)


Service = Annotated[GroupService, Depends(_service)]


@router.get("/", response_model=list[GroupResponse])
async def list_groups(
    user: VerifiedUser, service: Service, share: bool | None = None
) -> list[GroupResponse]:
    return await service.visible_to(user, share)


@router.post("/create", response_model=GroupResponse)
async def create_group(form: GroupForm, admin: AdminUser, service: Service) -> GroupResponse:
    return await service.create(admin, form)


@router.get("/id/{group_id}", response_model=GroupResponse)
async def get_group(group_id: str, _: AdminUser, service: Service) -> GroupResponse:
    return await service.get(group_id)


@router.get("/id/{group_id}/info", response_model=GroupInfoResponse)
async def group_info(group_id: str, _: VerifiedUser, service: Service) -> GroupInfoResponse:
    return await service.info(group_id)


@router.get("/id/{group_id}/export", response_model=GroupExportResponse)
async def export_group(group_id: str, _: AdminUser, service: Service) -> GroupExportResponse:
    return await service.export(group_id)


@router.post("/id/{group_id}/users", response_model=list[UserInfoResponse])
async def group_users(group_id: str, _: AdminUser, service: Service) -> list[UserInfoResponse]:
    return await service.users(group_id)


@router.get("/id/{group_id}/members", response_model=GroupMembersResponse)
async def group_members(
    group_id: str,
    _: AdminUser,
    service: Service,
    membership: Literal["direct", "inherited", "effective"] = "effective",
    query: str = Query("", max_length=256),
    page: int = Query(1, ge=1, le=1_000_000),
) -> GroupMembersResponse:
    return await service.members(group_id, membership, query, page)


@router.post("/id/{group_id}/update", response_model=GroupResponse)
async def update_group(
    group_id: str, form: GroupForm, _: AdminUser, service: Service
) -> GroupResponse:
    return await service.update(group_id, form)


@router.post("/id/{group_id}/users/add", response_model=GroupResponse)
async def add_users(
    group_id: str, form: UserIdsForm, _: AdminUser, service: Service
) -> GroupResponse:
    return await service.add_users(group_id, form.user_ids or [])


@router.post("/id/{group_id}/users/remove", response_model=GroupResponse)
async def remove_users(
    group_id: str, form: UserIdsForm, _: AdminUser, service: Service
) -> GroupResponse:
    return await service.remove_users(group_id, form.user_ids or [])


@router.delete("/id/{group_id}/delete")
async def delete_group(group_id: str, _: AdminUser, service: Service) -> bool:
    return await service.delete(group_id)
