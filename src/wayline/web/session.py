"""Who is looking at a page: the `token` cookie, checked by the API's own authenticator."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from wayline.auth.credentials import Authenticator
from wayline.core import errors
from wayline.core.state import get_state
from wayline.users.schemas import UserInfo


async def page_user(request: Request) -> UserInfo | None:
    """The signed-in user, or None (no cookie, an expired or revoked session)."""
    if not request.cookies.get("token"):
        return None
    try:
        principal = await get_state(request).get(Authenticator).authenticate(request)
    except errors.WaylineError:
        return None
    return principal.user


PageUser = Annotated[UserInfo | None, Depends(page_user)]


class SignInRequired(Exception):
    """Raised by the page dependencies below; `component.install` answers a redirect to `/auth`."""


class NotAllowed(Exception):
    """A signed-in user on a page for admins; `component.install` answers a 403 page."""


async def verified_page_user(user: PageUser) -> UserInfo:
    """A user who may use the app: others go to `/auth` (sign-in, or the waiting page)."""
    if user is None or not user.is_verified:
        raise SignInRequired
    return user


async def admin_page_user(user: Annotated[UserInfo, Depends(verified_page_user)]) -> UserInfo:
    if not user.is_admin:
        raise NotAllowed
    return user


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


VerifiedPageUser = Annotated[UserInfo, Depends(verified_page_user)]
AdminPageUser = Annotated[UserInfo, Depends(admin_page_user)]
