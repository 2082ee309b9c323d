"""`/api/v1/users`: the admin's view of accounts (the users domain's service behind the
caller checks that every route takes from auth)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core import errors
from wayline.core.deps import CoreDep, SessionDep
from wayline.users.schemas import RoleUpdateForm, UserListResponse, UserResponse, UserUpdateForm
from wayline.users.service import UserService

router = APIRouter(prefix="/api/v1/users", tags=["users"])


def _service(session: SessionDep, core: CoreDep) -> UserService:
    return UserService(session, core.bus)


Service = Annotated[UserService, Depends(_service)]


@router.get("/", response_model=UserListResponse)
async def list_users(
    _: AdminUser,
    service: Service,
    page: int = Query(1, ge=1, le=1_000_000),
    limit: int = Query(50, ge=1, le=1000),
) -> UserListResponse:
    return await service.list(page, limit)


@router.post("/update/role", response_model=UserResponse)
async def update_role(form: RoleUpdateForm, admin: AdminUser, service: Service) -> UserResponse:
    return await service.update(admin, form.id, UserUpdateForm(role=form.role))


@router.get("/{user_id}", response_model=UserResponse)
async def get_user(user_id: str, user: VerifiedUser, service: Service) -> UserResponse:
    if not user.is_admin and user.id != user_id:
        raise errors.Unauthorized(errors.ACCESS_PROHIBITED)
    return await service.get(user_id)


@router.post("/{user_id}/update", response_model=UserResponse)
async def update_user(
    user_id: str, form: UserUpdateForm, admin: AdminUser, service: Service
) -> UserResponse:
    return await service.update(admin, user_id, form)


@router.delete("/{user_id}")
async def delete_user(user_id: str, admin: AdminUser, service: Service) -> bool:
    return await service.delete(admin, user_id)
