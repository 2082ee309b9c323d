"""`/api/v1/users/{id}/limits`: an admin's limits for a user (the defaults and ceiling of the
user's keys, and the limits of the user's sessions); `/api/v1/users/user/limits`: one's own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from wayline.auth.deps import AdminUser, AuthenticatorDep, VerifiedUser
from wayline.auth.limits.schemas import LimitFields, UserLimitsResponse
from wayline.auth.limits_service import UserLimitsService
from wayline.auth.schemas import StrictForm
from wayline.core.deps import SessionDep

router = APIRouter(prefix="/api/v1/users", tags=["users"])


class UserLimitsForm(StrictForm, LimitFields):
    pass


def _service(session: SessionDep, authenticator: AuthenticatorDep) -> UserLimitsService:
    return UserLimitsService(session, authenticator)


Service = Annotated[UserLimitsService, Depends(_service)]


# Before `/{user_id}/limits`, which would read "user" as an id.
@router.get("/user/limits", response_model=UserLimitsResponse)
async def own_limits(user: VerifiedUser, service: Service) -> UserLimitsResponse:
    """The limits an admin set for the caller: what the caller's keys inherit and cannot exceed."""
    return await service.get(user.id)


@router.get("/{user_id}/limits", response_model=UserLimitsResponse)
async def user_limits(user_id: str, _: AdminUser, service: Service) -> UserLimitsResponse:
    return await service.get(user_id)


@router.post("/{user_id}/limits/update", response_model=UserLimitsResponse)
async def update_user_limits(
    user_id: str, form: UserLimitsForm, _: AdminUser, service: Service
) -> UserLimitsResponse:
    """Replace a user's limits (fields left out are cleared)."""
    return await service.update(user_id, form)
