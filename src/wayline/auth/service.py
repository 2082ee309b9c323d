"""Accounts, sessions and API keys."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.auth.credentials import Authenticator, Principal
from wayline.auth.limits.policy import LimitValues, ceiling_violation
from wayline.auth.limits.repository import user_limit_values, write_values
from wayline.auth.limits.schemas import LimitFields, wire_fields
from wayline.auth.repository import ApiKeyRepository, purge_expired_revocations, revoke_token
from wayline.auth.schemas import (
    AddUserForm,
    ApiKeyCreateForm,
    ApiKeyInfo,
    ApiKeyUpdateForm,
    CreatedApiKey,
    SessionUserResponse,
    SigninForm,
    SignupForm,
    UpdatePasswordForm,
    UpdateProfileForm,
)
from wayline.auth.tables import ApiKey
from wayline.core import errors
from wayline.core.clock import new_id, now
from wayline.core.db import begin_write
from wayline.core.ratelimit import RateLimiter
from wayline.core.security import (
    create_jwt,
    hash_api_key,
    hash_password,
    mask_api_key,
    new_api_key,
    verify_password,
)
from wayline.core.settings import Settings
from wayline.users.repository import UserRepository
from wayline.users.schemas import UserInfo, check_email

log = logging.getLogger("wayline.auth")


def permissions_for(user: UserInfo, settings: Settings) -> dict[str, Any]:
    """What the UI may offer this user; Wayline lets every verified user use workspace features."""
    verified = user.is_verified
    return {
        "workspace": {
            "models": user.is_admin,
            "knowledge": verified,
            "prompts": verified,
            "tools": user.is_admin,
        },
        "sharing": {"public_models": user.is_admin, "public_knowledge": verified},
        "chat": {"file_upload": verified, "stt": verified, "tts": verified},
        "features": {
            "api_keys": settings.ENABLE_API_KEYS and verified,
            "image_generation": settings.ENABLE_IMAGE_GENERATION,
        },
    }


def session_response(
    user: UserInfo, token: str, expires_at: int | None, settings: Settings
) -> SessionUserResponse:
    return SessionUserResponse(
        token=token,
        expires_at=expires_at,
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        profile_image_url=user.profile_image_url,
        permissions=permissions_for(user, settings),
    )


@dataclass(frozen=True)
class SigninLimits:
    """Sign-in attempts allowed per email and per client address."""

    per_email: RateLimiter
    per_address: RateLimiter


class AuthService:
    def __init__(
        self, session: AsyncSession, settings: Settings, authenticator: Authenticator
    ) -> None:
        self.session = session
        self.settings = settings
        self.authenticator = authenticator
        self.users = UserRepository(session)

    # --- sessions -----------------------------------------------------------
    def session_response(self, user: UserInfo) -> SessionUserResponse:
        token, claims = create_jwt(
            self.settings.secret_key, user.id, user.token_epoch, self.settings.jwt_expires_seconds
        )
        return self._response(user, token, claims.expires_at)

    def _response(self, user: UserInfo, token: str, expires_at: int | None) -> SessionUserResponse:
        return session_response(user, token, expires_at, self.settings)

    async def create_user(self, form: SignupForm, role: str) -> UserInfo:
        """Insert an account in one write transaction (the caller commits)."""
        email = _email_or_400(form.email)
        password_hash = await hash_password(form.password)  # before the write lock: ~0.1 s of CPU
        await begin_write(self.session)
        return await self._insert_user(form, email, role, password_hash)

    async def _insert_user(
        self, form: SignupForm, email: str, role: str, password_hash: str
    ) -> UserInfo:
        if await self.users.by_email(email) is not None:
            raise errors.BadRequest(errors.EMAIL_TAKEN)
        try:
            user = await self.users.insert(
                email=email,
                name=form.name.strip(),
                role=role,
                profile_image_url=form.profile_image_url or "/user.png",
                password_hash=password_hash,
            )
        except IntegrityError as exc:  # a concurrent sign-up with the same email won the race
            await self.session.rollback()
            raise errors.BadRequest(errors.EMAIL_TAKEN) from exc
        return UserInfo.of(user)

    async def signup(self, form: SignupForm) -> SessionUserResponse:
        if not self.settings.ENABLE_SIGNUP and await self.users.count() > 0:
            raise errors.Forbidden(errors.SIGNUP_DISABLED)  # refused before spending a hash on it
        email = _email_or_400(form.email)
        password_hash = await hash_password(form.password)
        await begin_write(self.session)
        first = await self.users.count() == 0
        if not first and not self.settings.ENABLE_SIGNUP:
            raise errors.Forbidden(errors.SIGNUP_DISABLED)
        user = await self._insert_user(form, email, self.settings.DEFAULT_USER_ROLE, password_hash)
        # Open WebUI: the first account becomes admin. Counting after the insert, in the same
        # transaction, keeps two simultaneous first sign-ups from both becoming admin on PostgreSQL.
        if first and await self.users.count() == 1:
            row = await self.users.set_role(user.id, "admin")
            assert row is not None
            user = UserInfo.of(row)
        await self.session.commit()
        return self.session_response(user)

    async def signin(
        self,
        form: SigninForm,
        client_address: str | None = None,
        limits: SigninLimits | None = None,
    ) -> SessionUserResponse:
        if (
            limits is not None
            and client_address
            and not await limits.per_address.hit(f"signin-ip:{client_address}")
        ):
            raise errors.TooManyRequests(
                "Too many sign-in attempts from this address. Please try again later."
            )
        if limits is not None and not await limits.per_email.hit(f"signin:{form.email}"):
            raise errors.TooManyRequests("Too many sign-in attempts. Please try again later.")
        row = await self.users.by_email(form.email)
        await self.session.commit()  # end the read: the hash check below takes ~0.1 s
        if (
            not await verify_password(form.password, row.password_hash if row else None)
            or row is None
        ):
            raise errors.BadRequest(errors.INVALID_CRED)
        await begin_write(self.session)
        await self.users.touch_active(row.id)
        await self.session.commit()
        return self.session_response(UserInfo.of(row))

    async def signout(self, principal: Principal) -> None:
        if principal.auth_type == "jwt" and principal.jti:
            await begin_write(self.session)
            await revoke_token(self.session, principal.jti, principal.token_expires_at)
            await self.session.commit()
            await self.authenticator.invalidate("signout")

    async def add_user(self, form: AddUserForm) -> dict[str, Any]:
        user = await self.create_user(form, form.role)
        await self.session.commit()
        token = self.session_response(user)
        return {
            "token": token.token,
            "token_type": "Bearer",
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "role": user.role,
            "profile_image_url": user.profile_image_url,
        }

    async def update_password(self, user: UserInfo, form: UpdatePasswordForm) -> bool:
        row = await self.users.get(user.id)
        await self.session.commit()
        if row is None or not await verify_password(form.password, row.password_hash):
            raise errors.BadRequest("Incorrect password")
        new_hash = await hash_password(form.new_password)
        await begin_write(self.session)
        # Compare-and-set on the old hash: of two concurrent changes with the same old
        # password, one wins and the other is told the password is no longer correct.
        changed = await self.users.replace_password_hash(user.id, row.password_hash, new_hash)
        await self.session.commit()
        if not changed:
            raise errors.BadRequest("Incorrect password")
        await self.authenticator.invalidate(
            "password"
        )  # every existing session of this user stops working
        return True

    async def update_profile(self, user: UserInfo, form: UpdateProfileForm) -> UserInfo:
        await begin_write(self.session)
        row = await self.users.update_profile(user.id, form.name.strip(), form.profile_image_url)
        if row is None:
            raise errors.Unauthorized(errors.INVALID_TOKEN)
        await self.session.commit()
        await self.authenticator.invalidate("profile")
        return UserInfo.of(row)

    async def on_startup(self) -> None:
        await begin_write(self.session)
        await purge_expired_revocations(self.session, now())
        await self.session.commit()
        await self.ensure_headless_admin()

    async def ensure_headless_admin(self) -> None:
        """Create the first admin from `WEBUI_ADMIN_*` when the database has no users."""
        s = self.settings
        if not (s.WEBUI_ADMIN_EMAIL and s.WEBUI_ADMIN_PASSWORD) or await self.users.count() > 0:
            return
        form = SignupForm(
            name=s.WEBUI_ADMIN_NAME, email=s.WEBUI_ADMIN_EMAIL, password=s.WEBUI_ADMIN_PASSWORD
        )
        try:
            await self.create_user(form, "admin")
            await self.session.commit()
            log.info("created admin %s from WEBUI_ADMIN_EMAIL", s.WEBUI_ADMIN_EMAIL)
        except errors.BadRequest:  # another replica created it first
            await self.session.rollback()

    # --- API keys -------------------------------------------------------------
    def _require_keys(self, user: UserInfo) -> None:
        if not self.settings.ENABLE_API_KEYS or not user.is_verified:
            raise errors.Forbidden(errors.API_KEY_CREATION_NOT_ALLOWED)

    async def _insert_key(
        self, user: UserInfo, name: str, is_default: bool, expires_at: int | None
    ) -> tuple[ApiKey, str]:
        key = new_api_key()
        row = ApiKey(
            id=new_id(),
            user_id=user.id,
            name=name,
            key_hash=hash_api_key(key),
            masked=mask_api_key(key),
            is_default=is_default,
            expires_at=expires_at,
            created_at=now(),
        )
        self.session.add(row)
        return row, key

    async def replace_default_key(self, user: UserInfo) -> str:
        self._require_keys(user)
        await begin_write(self.session)
        keys = ApiKeyRepository(self.session, user.id)
        replaced = await keys.delete_default()
        _, key = await self._insert_key(user, "Default", True, None)
        await self.session.commit()
        if replaced:
            await self.authenticator.invalidate("api_key")
        return key

    async def get_default_key(self, user: UserInfo) -> str:
        self._require_keys(user)
        row = await ApiKeyRepository(self.session, user.id).default()
        if row is None:
            raise errors.NotFound(errors.API_KEY_NOT_FOUND)
        return row.masked

    async def delete_default_key(self, user: UserInfo) -> bool:
        self._require_keys(user)
        await begin_write(self.session)
        deleted = await ApiKeyRepository(self.session, user.id).delete_default()
        await self.session.commit()
        if deleted:
            await self.authenticator.invalidate("api_key")
        return deleted

    async def list_keys(self, user: UserInfo) -> list[ApiKeyInfo]:
        self._require_keys(user)
        return [_key_info(row) for row in await ApiKeyRepository(self.session, user.id).list()]

    async def create_key(self, user: UserInfo, form: ApiKeyCreateForm) -> CreatedApiKey:
        self._require_keys(user)
        expires_at = form.expires_at
        if form.expires_in_days is not None:
            expires_at = now() + int(form.expires_in_days * 86400)
        values = form.limit_values()
        await begin_write(self.session)
        await self._check_ceiling(user, values)
        row, key = await self._insert_key(user, form.name, False, expires_at)
        write_values(row, values)
        await self.session.commit()
        return CreatedApiKey(**_key_info(row).model_dump(), api_key=key)

    async def update_key(self, user: UserInfo, key_id: str, form: ApiKeyUpdateForm) -> ApiKeyInfo:
        """Rename a key or change its limits (the fields sent; null clears one)."""
        self._require_keys(user)
        await begin_write(self.session)
        row = await ApiKeyRepository(self.session, user.id).get(key_id)
        if row is None:
            raise errors.NotFound(f"API key {key_id} not found")
        changes = form.model_dump(include=form.model_fields_set - {"name"})
        values = LimitFields(**{**wire_fields(LimitValues.of(row)), **changes}).limit_values()
        await self._check_ceiling(user, values)
        write_values(row, values)
        if form.name is not None:
            row.name = form.name
        await self.session.commit()
        await self.authenticator.invalidate("api_key")  # cached credentials carry the old limits
        return _key_info(row)

    async def _check_ceiling(self, user: UserInfo, values: LimitValues) -> None:
        """400 naming the first field that asks more than the user's limits allow."""
        ceiling = await user_limit_values(self.session, user.id) or LimitValues()
        violation = ceiling_violation(values, ceiling, user.is_admin)
        if violation is not None:
            field, why = violation
            raise errors.BadRequest(why, param=field)

    async def revoke_key(self, user: UserInfo, key_id: str) -> bool:
        self._require_keys(user)
        await begin_write(self.session)
        row = await ApiKeyRepository(self.session, user.id).get(key_id)
        if row is None:
            raise errors.NotFound(f"API key {key_id} not found")
        await self.session.delete(row)
        await self.session.commit()
        await self.authenticator.invalidate("api_key")
        return True


def _key_info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        name=row.name,
        masked=row.masked,
        is_default=row.is_default,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        **wire_fields(LimitValues.of(row)),
    )


def _email_or_400(value: str) -> str:
    try:
        return check_email(value)
    except ValueError as exc:
        raise errors.BadRequest(errors.INVALID_EMAIL_FORMAT) from exc
