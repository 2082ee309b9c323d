"""Who is calling: `CurrentUser` (any role), `VerifiedUser` (user or admin), `AdminUser`.

Open WebUI answers 401 with ACCESS_PROHIBITED for a pending user on a verified
route and for a non-admin on an admin route; we keep those statuses and texts.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from wayline.auth.credentials import Authenticator, Principal
from wayline.core import errors
from wayline.core.state import get_state
from wayline.users.schemas import UserInfo


def get_authenticator(request: Request) -> Authenticator:
    return get_state(request).get(Authenticator)


async def current_principal(request: Request) -> Principal:
    principal = await get_authenticator(request).authenticate(request)
    request.state.principal = principal
    return principal


async def current_user(principal: Annotated[Principal, Depends(current_principal)]) -> UserInfo:
    return principal.user


async def verified_user(principal: Annotated[Principal, Depends(current_principal)]) -> UserInfo:
    if not principal.user.is_verified:
        raise errors.Unauthorized(errors.ACCESS_PROHIBITED)
    return principal.user


async def admin_user(principal: Annotated[Principal, Depends(current_principal)]) -> UserInfo:
    if not principal.user.is_admin:
        raise errors.Unauthorized(errors.ACCESS_PROHIBITED)
    return principal.user


AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
CurrentUser = Annotated[UserInfo, Depends(current_user)]
VerifiedUser = Annotated[UserInfo, Depends(verified_user)]
AdminUser = Annotated[UserInfo, Depends(admin_user)]
