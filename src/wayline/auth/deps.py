"""Who is calling: `CurrentUser` (any role), `VerifiedUser` (user or admin), `AdminUser`.

Open WebUI answers 401 with ACCESS_PROHIBITED for a pending user on a verified
route and for a non-admin on an admin route; we keep those statuses and texts.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from wayline.auth.credentials import Authenticator, Principal
from wayline.auth.limits.gate import enforce, missing_scope
from wayline.core import errors
from wayline.core.state import get_state
from wayline.users.schemas import UserInfo


def get_authenticator(request: Request) -> Authenticator:
    return get_state(request).get(Authenticator)


async def current_principal(request: Request) -> Principal:
    principal = await get_authenticator(request).authenticate(request)
    request.state.principal = principal
    if principal.limits is not None:  # scopes, allowed models, counters: `auth/limits/gate.py`
        await enforce(request, principal.limits)
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
    if principal.limits is not None and not principal.limits.allows_scope("admin"):
        raise missing_scope("admin")
    return principal.user


async def key_manager(principal: Annotated[Principal, Depends(current_principal)]) -> UserInfo:
    """A verified user whose credential may make and change keys: not a key with limits or
    scopes of its own (it could mint a key without them)."""
    user = await verified_user(principal)
    if principal.limits is not None and principal.limits.key_restricted:
        raise errors.Forbidden(
            "An API key with limits or scopes of its own cannot manage API keys; "
            "sign in or use another key"
        )
    return user


AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
CurrentUser = Annotated[UserInfo, Depends(current_user)]
VerifiedUser = Annotated[UserInfo, Depends(verified_user)]
AdminUser = Annotated[UserInfo, Depends(admin_user)]
KeyManager = Annotated[UserInfo, Depends(key_manager)]
