"""The account pages: `/auth`, `/settings/account`, `/admin`, and the fragments their htmx
swaps load after a change (made by the browser through the JSON API)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wayline.auth.credentials import Authenticator
from wayline.auth.service import AuthService
from wayline.core.deps import SessionDep, SettingsDep, StateDep
from wayline.web.pages import render
from wayline.web.session import AdminPageUser, PageUser, VerifiedPageUser, redirect

router = APIRouter(include_in_schema=False)


@router.get("/auth")
async def auth_page(
    request: Request, user: PageUser, session: SessionDep, settings: SettingsDep, state: StateDep
) -> Response:
    if user is not None and user.is_verified:
        return redirect("/")
    if user is not None:  # signed in, waiting for an admin
        return render(request, "waiting.html", user)
    service = AuthService(session, settings, state.get(Authenticator))
    first = await service.users.count() == 0
    return render(
        request,
        "auth.html",
        None,
        first=first,
        signup_enabled=first or settings.ENABLE_SIGNUP,
    )


@router.get("/settings/account")
async def account_page(request: Request, user: VerifiedPageUser) -> Response:
    return render(request, "account.html", user)


@router.get("/admin")
async def admin_page(request: Request, user: AdminPageUser) -> Response:
    return render(request, "admin.html", user)
