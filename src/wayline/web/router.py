"""The account pages: `/auth`, `/settings/account`, `/admin`, and the fragments their htmx
swaps load after a change (made by the browser through the JSON API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from wayline.auth.credentials import Authenticator
from wayline.auth.service import AuthService
from wayline.core.deps import SessionDep, SettingsDep, StateDep
from wayline.providers.health import HealthMonitor
from wayline.web import admin
from wayline.web.pages import render
from wayline.web.session import AdminPageUser, PageUser, VerifiedPageUser, redirect

router = APIRouter(include_in_schema=False)


def _auth(session: SessionDep, settings: SettingsDep, state: StateDep) -> AuthService:
    return AuthService(session, settings, state.get(Authenticator))


Auth = Annotated[AuthService, Depends(_auth)]
SPANS = (7, 14, 30, 90)  # the usage chart's choices, in days


@router.get("/auth")
async def auth_page(
    request: Request, user: PageUser, service: Auth, settings: SettingsDep
) -> Response:
    if user is not None and user.is_verified:
        return redirect("/")
    if user is not None:  # signed in, waiting for an admin
        return render(request, "waiting.html", user)
    first = await service.users.count() == 0
    return render(
        request,
        "auth.html",
        None,
        first=first,
        signup_enabled=first or settings.ENABLE_SIGNUP,
    )


@router.get("/settings/account")
async def account_page(request: Request, user: VerifiedPageUser, service: Auth) -> Response:
    keys = await service.list_keys(user)
    base_url = f"{str(request.base_url).rstrip('/')}/api"
    return render(request, "account.html", user, nav="settings", keys=keys, base_url=base_url)


@router.get("/settings/account/keys")
async def keys_fragment(request: Request, user: VerifiedPageUser, service: Auth) -> Response:
    """The key list, reloaded by htmx after a key is made or revoked."""
    return render(request, "_keys.html", user, keys=await service.list_keys(user))


@router.get("/admin")
async def admin_page(
    request: Request,
    user: AdminPageUser,
    session: SessionDep,
    state: StateDep,
    days: int = Query(14, ge=1, le=366, description="the usage chart's span, in days"),
) -> Response:
    users, total = await admin.accounts(session, state.core.bus)
    return render(
        request,
        "admin.html",
        user,
        nav="admin",
        users=users,
        total=total,
        health=await state.get(HealthMonitor).report(),
        usage=await admin.usage(session, days),
        spans=SPANS,
    )


@router.get("/admin/users")
async def users_fragment(
    request: Request, user: AdminPageUser, session: SessionDep, state: StateDep
) -> Response:
    """The accounts table, reloaded by htmx after an approval, a role change or a deletion."""
    users, total = await admin.accounts(session, state.core.bus)
    return render(request, "_users.html", user, users=users, total=total)
