"""`/api/v1/auths`: Open WebUI's account and credential endpoints, plus named API keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from wayline.auth.deps import (
    AdminUser,
    AuthenticatorDep,
    CurrentUser,
    KeyManager,
    PrincipalDep,
    VerifiedUser,
)
from wayline.auth.schemas import (
    AddUserForm,
    ApiKeyCreateForm,
    ApiKeyInfo,
    ApiKeyResponse,
    ApiKeyUpdateForm,
    CreatedApiKey,
    SessionUserResponse,
    SigninForm,
    SignupForm,
    UpdatePasswordForm,
    UpdateProfileForm,
)
from wayline.auth.service import AuthService, SigninLimits, session_response
from wayline.core.deps import SessionDep, SettingsDep
from wayline.core.state import get_state
from wayline.users.schemas import UserResponse

router = APIRouter(prefix="/api/v1/auths", tags=["auths"])


def _service(
    session: SessionDep, settings: SettingsDep, authenticator: AuthenticatorDep
) -> AuthService:
    return AuthService(session, settings, authenticator)


Service = Annotated[AuthService, Depends(_service)]


def _set_cookie(response: Response, settings: SettingsDep, session: SessionUserResponse) -> None:
    response.set_cookie(
        "token",
        session.token,
        httponly=True,
        secure=settings.WEBUI_AUTH_COOKIE_SECURE,
        samesite=settings.WEBUI_AUTH_COOKIE_SAME_SITE,
        max_age=None if session.expires_at is None else int(settings.jwt_expires_seconds or 0),
    )


@router.post("/signup", response_model=SessionUserResponse)
async def signup(
    form: SignupForm, service: Service, response: Response, settings: SettingsDep
) -> SessionUserResponse:
    session = await service.signup(form)
    _set_cookie(response, settings, session)
    return session


@router.post("/signin", response_model=SessionUserResponse)
async def signin(
    form: SigninForm, service: Service, response: Response, settings: SettingsDep, request: Request
) -> SessionUserResponse:
    # The peer address; behind a proxy listed in FORWARDED_ALLOW_IPS uvicorn has already
    # replaced it with the client's address from X-Forwarded-For.
    address = request.client.host if request.client else None
    session = await service.signin(form, address, get_state(request).get(SigninLimits))
    _set_cookie(response, settings, session)
    return session


@router.get("/", response_model=SessionUserResponse)
async def session_user(principal: PrincipalDep, settings: SettingsDep) -> SessionUserResponse:
    # Open WebUI refuses API keys here ("A human session is required"); we answer for both,
    # so a script can check which account its key belongs to.
    return session_response(principal.user, principal.token, principal.token_expires_at, settings)


@router.post("/signout")
async def signout(principal: PrincipalDep, service: Service, response: Response) -> dict[str, bool]:
    await service.signout(principal)
    response.delete_cookie("token")
    return {"status": True}


@router.post("/add")
async def add_user(form: AddUserForm, _: AdminUser, service: Service) -> dict[str, Any]:
    return await service.add_user(form)


@router.post("/update/password")
async def update_password(form: UpdatePasswordForm, user: CurrentUser, service: Service) -> bool:
    return await service.update_password(user, form)


@router.post("/update/profile", response_model=UserResponse)
async def update_profile(
    form: UpdateProfileForm, user: VerifiedUser, service: Service
) -> UserResponse:
    return UserResponse.of(await service.update_profile(user, form))


@router.post("/api_key", response_model=ApiKeyResponse)
async def create_default_key(user: KeyManager, service: Service) -> ApiKeyResponse:
    return ApiKeyResponse(api_key=await service.replace_default_key(user))


@router.get("/api_key", response_model=ApiKeyResponse)
async def get_default_key(user: VerifiedUser, service: Service) -> ApiKeyResponse:
    # Only a hash is stored, so the key itself cannot be shown again: this is its masked form.
    return ApiKeyResponse(api_key=await service.get_default_key(user))


@router.delete("/api_key")
async def delete_default_key(user: KeyManager, service: Service) -> bool:
    return await service.delete_default_key(user)


@router.get("/api_keys", response_model=list[ApiKeyInfo])
async def list_keys(user: VerifiedUser, service: Service) -> list[ApiKeyInfo]:
    return await service.list_keys(user)


@router.post("/api_keys", response_model=CreatedApiKey)
async def create_key(form: ApiKeyCreateForm, user: KeyManager, service: Service) -> CreatedApiKey:
    """A named key, with limits and scopes (within the user's, `GET /api/v1/users/user/limits`)."""
    return await service.create_key(user, form)


@router.post("/api_keys/{key_id}/update", response_model=ApiKeyInfo)
async def update_key(
    key_id: str, form: ApiKeyUpdateForm, user: KeyManager, service: Service
) -> ApiKeyInfo:
    """Rename a key or change its limits: the fields sent change (null clears), others stay."""
    return await service.update_key(user, key_id, form)


@router.delete("/api_keys/{key_id}")
async def revoke_key(key_id: str, user: KeyManager, service: Service) -> bool:
    return await service.revoke_key(user, key_id)
