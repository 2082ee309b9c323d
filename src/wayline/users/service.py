"""Administering accounts (`/api/v1/users`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.bus import Bus
from wayline.core.clock import now
from wayline.core.db import begin_write
from wayline.core.security import hash_password
from wayline.users.repository import UserRepository
from wayline.users.schemas import (
    UserInfo,
    UserListResponse,
    UserResponse,
    UserUpdateForm,
    check_email,
)
from wayline.users.tables import User

# Announced after an account's role, password or existence changed: every worker drops what it
# cached about accounts (credentials, who is an admin).
ACCOUNTS_CHANGED = "accounts.changed"


class UserService:
    def __init__(self, session: AsyncSession, bus: Bus) -> None:
        self.session = session
        self.bus = bus
        self.users = UserRepository(session)

    async def _get(self, user_id: str) -> User:
        row = await self.users.get(user_id)
        if row is None:
            raise errors.NotFound(f"User {user_id} not found")
        return row

    async def list(self, page: int, limit: int) -> UserListResponse:
        rows = await self.users.page((page - 1) * limit, limit)
        return UserListResponse(
            users=[UserResponse.of(UserInfo.of(r)) for r in rows], total=await self.users.count()
        )

    async def get(self, user_id: str) -> UserResponse:
        return UserResponse.of(UserInfo.of(await self._get(user_id)))

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
        return UserResponse.of(UserInfo.of(row))

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
