"""Accounts (`/api/v1/users`): the admin's view of every account, what signed-in users may read
about each other, and each user's own documents (settings, info, status, variables).

A user's own document is merged into the stored one inside a write transaction that locked the
row (Open WebUI merges into the copy read at sign-in, losing one of two concurrent updates).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.bus import Bus
from wayline.core.clock import now
from wayline.core.db import begin_write
from wayline.core.security import hash_password
from wayline.users.group_repository import GroupRepository
from wayline.users.repository import UserRepository
from wayline.users.schemas import (
    VARIABLE_KEY,
    VARIABLE_VALUE_MAX,
    VARIABLES_MAX,
    GroupRef,
    UserActiveResponse,
    UserInfo,
    UserInfoListResponse,
    UserInfoResponse,
    UserListResponse,
    UserResponse,
    UserSettings,
    UserStatusForm,
    UserUpdateForm,
    UserWithGroups,
    check_email,
)
from wayline.users.tables import User

# Announced after an account's role, password or existence changed: every worker drops what it
# cached about accounts (credentials, who is an admin).
ACCOUNTS_CHANGED = "accounts.changed"

# Open WebUI's "active": seen in the last three minutes.
ACTIVE_WINDOW = 180


def is_active(row: User) -> bool:
    return bool(row.last_active_at) and row.last_active_at >= now() - ACTIVE_WINDOW


def user_not_found(user_id: str) -> errors.NotFound:
    return errors.NotFound(f"User {user_id} not found")


class UserService:
    def __init__(self, session: AsyncSession, bus: Bus) -> None:
        self.session = session
        self.bus = bus
        self.users = UserRepository(session)

    async def _get(self, user_id: str) -> User:
        row = await self.users.get(user_id)
        if row is None:
            raise user_not_found(user_id)
        return row

    async def _group_refs(self, user_id: str) -> list[GroupRef]:
        groups = (await GroupRepository(self.session).groups_of([user_id]))[user_id]
        return [GroupRef(id=g.id, name=g.name) for g in groups]

    # --- lists --------------------------------------------------------------------------
    async def list(
        self,
        query: str | None,
        order_by: str | None,
        direction: str | None,
        page: int,
        limit: int,
    ) -> UserListResponse:
        """The admin's list: every account with the ids of its (direct) groups."""
        rows, total = await self.users.search(query, order_by, direction, (page - 1) * limit, limit)
        groups = await GroupRepository(self.session).groups_of([r.id for r in rows])
        users = [
            UserWithGroups(
                **UserResponse.of_row(r).model_dump(), group_ids=[g.id for g in groups[r.id]]
            )
            for r in rows
        ]
        return UserListResponse(users=users, total=total)

    async def search(
        self,
        query: str | None,
        order_by: str | None,
        direction: str | None,
        page: int | None,
        limit: int | None,
    ) -> UserInfoListResponse:
        """Accounts as any signed-in user may see them (`UserInfoResponse`: no settings, no
        info); every account when `page` is None (`/all`)."""
        skip = None if page is None or limit is None else (page - 1) * limit
        rows, total = await self.users.search(query, order_by, direction, skip, limit)
        users = [UserInfoResponse.of_row(r, is_active(r)) for r in rows]
        return UserInfoListResponse(users=users, total=total)

    # --- one account ---------------------------------------------------------------------
    async def get(self, user_id: str) -> UserActiveResponse:
        row = await self._get(user_id)
        return UserActiveResponse(
            **UserResponse.of_row(row).model_dump(),
            groups=await self._group_refs(user_id),
            is_active=is_active(row),
        )

    async def info(self, user_id: str) -> UserInfoResponse:
        row = await self._get(user_id)
        return UserInfoResponse.of_row(row, is_active(row), await self._group_refs(user_id))

    async def active(self, user_id: str) -> bool:
        row = await self.users.get(user_id)
        return row is not None and is_active(row)

    async def profile_image_url(self, user_id: str) -> str:
        return (await self._get(user_id)).profile_image_url

    async def end_sessions(self, user_id: str) -> bool:
        """Sign the account out everywhere (its JWTs; API keys are revoked one by one)."""
        await begin_write(self.session)
        if not await self.users.end_sessions(user_id):
            raise user_not_found(user_id)
        await self.session.commit()
        await self.bus.publish(ACCOUNTS_CHANGED, {"reason": "sessions revoked"})
        return True

    # --- the caller's own documents ----------------------------------------------------
    async def _own(self, user: UserInfo) -> User:
        await begin_write(self.session)
        row = await self.users.lock(user.id)
        if row is None:  # deleted since the credential was checked
            raise user_not_found(user.id)
        return row

    async def settings(self, user: UserInfo) -> dict[str, Any] | None:
        return (await self._get(user.id)).settings

    async def update_settings(self, user: UserInfo, form: UserSettings) -> dict[str, Any]:
        """Top-level keys replace the stored ones; `ui` is patched key by key (a null value
        removes the key), as Open WebUI 0.12 does."""
        patch = form.model_dump(exclude_unset=True)
        row = await self._own(user)
        merged = dict(row.settings or {})
        ui_patch = patch.pop("ui", None)
        merged.update(patch)
        if isinstance(ui_patch, dict):
            ui = dict(merged.get("ui") or {})
            for key, value in ui_patch.items():
                if value is None:
                    ui.pop(key, None)
                else:
                    ui[key] = value
            merged["ui"] = ui
        row.settings, row.updated_at = merged, now()
        await self.session.commit()
        return merged

    async def info_document(self, user: UserInfo) -> dict[str, Any] | None:
        return (await self._get(user.id)).info

    async def update_info(self, user: UserInfo, patch: dict[str, Any]) -> dict[str, Any]:
        row = await self._own(user)
        merged = {**(row.info or {}), **patch}
        row.info, row.updated_at = merged, now()
        await self.session.commit()
        return merged

    async def status(self, user: UserInfo) -> UserResponse:
        return UserResponse.of_row(await self._get(user.id))

    async def update_status(self, user: UserInfo, form: UserStatusForm) -> UserResponse:
        """Set the fields given (a field left out keeps its value)."""
        row = await self._own(user)
        for key, value in form.model_dump(exclude_none=True).items():
            setattr(row, key, value)
        row.updated_at = now()
        await self.session.commit()
        return UserResponse.of_row(row)

    async def variables(self, user: UserInfo) -> dict[str, str]:
        stored = (await self._get(user.id)).variables or {}
        return {k: v for k, v in stored.items() if isinstance(k, str) and isinstance(v, str)}

    async def update_variables(self, user: UserInfo, variables: dict[str, Any]) -> dict[str, str]:
        checked = check_variables(variables)
        row = await self._own(user)
        row.variables, row.updated_at = checked, now()
        await self.session.commit()
        return checked

    async def update(self, actor: UserInfo, user_id: str, form: UserUpdateForm) -> UserResponse:
        password_hash = await hash_password(form.password) if form.password else None
        await begin_write(self.session)
        row = await self._get(user_id)
        if (
            form.role is not None
            and form.role != "admin"
            and row.role == "admin"
            and await self._last_admin(row)
        ):
            raise errors.BadRequest("The last admin cannot be demoted")
        if form.email is not None:
            try:
                email = check_email(form.email)
            except ValueError as exc:
                raise errors.BadRequest(errors.INVALID_EMAIL_FORMAT) from exc
            other = await self.users.by_email(email)
            if other is not None and other.id != row.id:
                raise errors.BadRequest(errors.EMAIL_TAKEN)
            row.email = email
        if form.role is not None:
            row.role = form.role
        if form.name is not None:
            row.name = form.name.strip()
        if form.profile_image_url is not None:
            row.profile_image_url = form.profile_image_url
        if password_hash is not None:
            row.password_hash = password_hash
            row.token_epoch += 1
        row.updated_at = now()
        await self.session.commit()
        await self.bus.publish(ACCOUNTS_CHANGED, {"reason": "user updated"})
        return UserResponse.of_row(row)

    async def delete(self, actor: UserInfo, user_id: str) -> bool:
        if actor.id == user_id:
            raise errors.BadRequest("You cannot delete your own account")
        await begin_write(self.session)
        row = await self._get(user_id)
        await self.session.delete(row)
        await self.session.commit()
        await self.bus.publish(ACCOUNTS_CHANGED, {"reason": "user deleted"})
        return True

    async def _last_admin(self, row: User) -> bool:
        admins = await self.users.admins()
        return len(admins) == 1 and admins[0].id == row.id


def check_variables(variables: dict[str, Any]) -> dict[str, str]:
    """Open WebUI's rules for user variables: keys like `team_name`, string values; 400 naming
    the first that breaks them."""
    if len(orjson.dumps(variables)) > VARIABLES_MAX:
        raise errors.BadRequest(f"User variables are too large (at most {VARIABLES_MAX} bytes)")
    checked: dict[str, str] = {}
    for key, value in variables.items():
        if not VARIABLE_KEY.match(key):
            raise errors.BadRequest(
                f"Invalid user variable key: {key!r} (lower-case letters, digits and _, "
                "starting with a letter)"
            )
        if not isinstance(value, str):
            raise errors.BadRequest(f"User variable must be a string: {key}")
        value = value.replace("\r\n", "\n")
        if len(value) > VARIABLE_VALUE_MAX:
            raise errors.BadRequest(
                f"User variable is too long: {key} (at most {VARIABLE_VALUE_MAX} characters)"
            )
        checked[key] = value
    return checked
