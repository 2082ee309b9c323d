"""`/api/v1/users`: the admin's view of accounts, what signed-in users may read about each other,
each user's own documents, and permissions (the users domain's services behind the caller
checks that every route takes from auth).

Static paths come before `/{user_id}`, which would otherwise catch them (`/all`, `/groups`, ...).
The admin's access previews (`/{user_id}/preview`) are served by `system.preview_router`: they
read models and collections, which sit above this package."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import RedirectResponse, Response

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core import errors
from wayline.core.deps import CoreDep, SessionDep
from wayline.core.storable import StorableObject
from wayline.users.avatar import Redirect, picture_for
from wayline.users.group_schemas import GroupResponse, UserGroupResponse
from wayline.users.group_service import GroupService
from wayline.users.permissions import PermissionService, UserPermissions, shipped_defaults
from wayline.users.schemas import (
    RoleUpdateForm,
    UserActiveResponse,
    UserInfoListResponse,
    UserInfoResponse,
    UserListResponse,
    UserResponse,
    UserSettings,
    UserStatusForm,
    UserUpdateForm,
    UserVariablesForm,
    UserVariablesResponse,
)
from wayline.users.service import UserService

router = APIRouter(prefix="/api/v1/users", tags=["users"])

PAGE_SIZE = 30  # Open WebUI's page of users


def _service(session: SessionDep, core: CoreDep) -> UserService:
    return UserService(session, core.bus)


def _permissions(session: SessionDep, core: CoreDep) -> PermissionService:
    return PermissionService(session, core.runtime_config)


def _groups(session: SessionDep, core: CoreDep) -> GroupService:
    return GroupService(session, core.bus)


Service = Annotated[UserService, Depends(_service)]
Permissions = Annotated[PermissionService, Depends(_permissions)]
Groups = Annotated[GroupService, Depends(_groups)]
SearchText = Annotated[str | None, Query(max_length=256)]
OrderBy = Annotated[str | None, Query(max_length=300)]
Direction = Annotated[str | None, Query(max_length=8)]


# --- lists --------------------------------------------------------------------------------
@router.get("/", response_model=UserListResponse)
async def list_users(
    _: AdminUser,
    service: Service,
    query: SearchText = None,
    order_by: OrderBy = None,
    direction: Direction = None,
    page: int = Query(1, ge=1, le=1_000_000),
    limit: int = Query(PAGE_SIZE, ge=1, le=1000),
) -> UserListResponse:
    return await service.list(query, order_by, direction, page, limit)


@router.get("/all", response_model=UserInfoListResponse)
async def all_users(_: AdminUser, service: Service) -> UserInfoListResponse:
    return await service.search(None, None, None, None, None)


@router.get("/search", response_model=UserInfoListResponse)
async def search_users(
    _: VerifiedUser,
    service: Service,
    query: SearchText = None,
    order_by: OrderBy = None,
    direction: Direction = None,
    page: int = Query(1, ge=1, le=1_000_000),
) -> UserInfoListResponse:
    return await service.search(query, order_by, direction, page, PAGE_SIZE)


@router.get("/groups", response_model=list[UserGroupResponse] | list[GroupResponse])
async def my_groups(
    user: VerifiedUser, groups: Groups, include_inherited: bool = False
) -> list[GroupResponse] | list[UserGroupResponse]:
    return await groups.of_user(user.id, include_inherited)


# --- permissions ----------------------------------------------------------------------------
@router.get("/permissions")
async def my_permissions(user: VerifiedUser, permissions: Permissions) -> dict[str, Any]:
    return await permissions.of(user)


@router.get("/default/permissions", response_model=UserPermissions)
async def default_permissions(_: AdminUser, permissions: Permissions) -> UserPermissions:
    return await permissions.defaults()


@router.post("/default/permissions")
async def set_default_permissions(
    form: UserPermissions, _: AdminUser, permissions: Permissions
) -> dict[str, Any]:
    return await permissions.set_defaults(form)


@router.get("/default/permissions/defaults", response_model=UserPermissions)
async def shipped_permissions(_: AdminUser) -> UserPermissions:
    return shipped_defaults()


# --- the caller's own documents --------------------------------------------------------------
@router.get("/user/settings")
async def my_settings(user: VerifiedUser, service: Service, raw: bool = False) -> Any:
    # `raw` skips Open WebUI's admin-set interface defaults; Wayline has none, so both are raw.
    return await service.settings(user)


@router.post("/user/settings/update")
async def update_my_settings(
    form: UserSettings, user: VerifiedUser, service: Service
) -> dict[str, Any]:
    return await service.update_settings(user, form)


@router.get("/user/status", response_model=UserResponse)
async def my_status(user: VerifiedUser, service: Service) -> UserResponse:
    return await service.status(user)


@router.post("/user/status/update", response_model=UserResponse)
async def update_my_status(
    form: UserStatusForm, user: VerifiedUser, service: Service
) -> UserResponse:
    return await service.update_status(user, form)


@router.get("/user/info")
async def my_info(user: VerifiedUser, service: Service) -> dict[str, Any] | None:
    return await service.info_document(user)


@router.post("/user/info/update")
async def update_my_info(
    user: VerifiedUser, service: Service, patch: Annotated[StorableObject, Body()]
) -> dict[str, Any]:
    """Merge the body's keys into the stored info (Open WebUI's PATCH-style update)."""
    return await service.update_info(user, patch)


@router.get("/user/variables", response_model=UserVariablesResponse)
async def my_variables(user: VerifiedUser, service: Service) -> UserVariablesResponse:
    return UserVariablesResponse(variables=await service.variables(user))


@router.post("/user/variables/update", response_model=UserVariablesResponse)
async def update_my_variables(
    form: UserVariablesForm, user: VerifiedUser, service: Service
) -> UserVariablesResponse:
    return UserVariablesResponse(variables=await service.update_variables(user, form.variables))


# --- one account ------------------------------------------------------------------------------
@router.post("/update/role", response_model=UserResponse)
async def update_role(form: RoleUpdateForm, admin: AdminUser, service: Service) -> UserResponse:
    return await service.update(admin, form.id, UserUpdateForm(role=form.role))


@router.get("/{user_id}", response_model=UserActiveResponse)
async def get_user(user_id: str, user: VerifiedUser, service: Service) -> UserActiveResponse:
    # Open WebUI lets admins only; an account may also read itself here.
    if not user.is_admin and user.id != user_id:
        raise errors.Unauthorized(errors.ACCESS_PROHIBITED)
    return await service.get(user_id)


@router.get("/{user_id}/info", response_model=UserInfoResponse)
async def user_info(user_id: str, _: VerifiedUser, service: Service) -> UserInfoResponse:
    return await service.info(user_id)


@router.get("/{user_id}/profile/image", response_model=None)
async def profile_image(user_id: str, _: VerifiedUser, service: Service) -> Response:
    picture = picture_for(await service.profile_image_url(user_id))
    if isinstance(picture, Redirect):
        return RedirectResponse(picture.location, status_code=302)
    return Response(
        picture.content,
        media_type=picture.media_type,
        headers={"Content-Disposition": "inline", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/{user_id}/active")
async def user_active(user_id: str, _: VerifiedUser, service: Service) -> dict[str, bool]:
    return {"active": await service.active(user_id)}


@router.post("/{user_id}/sessions/revoke")
async def revoke_sessions(user_id: str, _: AdminUser, service: Service) -> bool:
    return await service.end_sessions(user_id)


@router.post("/{user_id}/update", response_model=UserResponse)
async def update_user(
    user_id: str, form: UserUpdateForm, admin: AdminUser, service: Service
) -> UserResponse:
    return await service.update(admin, user_id, form)


@router.delete("/{user_id}")
async def delete_user(user_id: str, admin: AdminUser, service: Service) -> bool:
    return await service.delete(admin, user_id)


@router.get("/{user_id}/groups", response_model=list[UserGroupResponse] | list[GroupResponse])
async def user_groups(
    user_id: str, _: AdminUser, groups: Groups, service: Service, include_inherited: bool = False
) -> list[GroupResponse] | list[UserGroupResponse]:
    await service.get(user_id)  # 404 for an unknown account, not an empty list
    return await groups.of_user(user_id, include_inherited)
