"""SQL for accounts. Other domains reach the `user` table only through this module: the
`UserRepository` methods, and `with_user` / `is_admin` for queries of theirs that must join or
test an account in the same statement (a credential lookup, a collection's owner)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from wayline.core.clock import new_id, now
from wayline.core.db import affected
from wayline.users.schemas import UserInfo
from wayline.users.tables import User

# A user id in another domain's query: a mapped attribute (`ApiKey.user_id`) or a column.
UserIdColumn = ColumnElement[Any] | QueryableAttribute[Any]


def with_user(stmt: Select[Any], user_id: UserIdColumn, *, outer: bool = False) -> Select[Any]:
    """`stmt` with the account whose id is `user_id` joined and added as its last column (read it
    with `UserInfo.of`); with `outer`, rows whose account is gone stay, with None there."""
    on = User.id == user_id
    stmt = stmt.add_columns(User)
    return stmt.outerjoin(User, on) if outer else stmt.join(User, on)


def is_admin(user_id: UserIdColumn) -> ColumnElement[bool]:
    """A clause: the account whose id is `user_id` (a column of the enclosing query) is an admin."""
    return exists().where(User.id == user_id, User.role == "admin")


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def by_email(self, email: str) -> User | None:
        return (
            await self.session.execute(select(User).where(User.email == email))
        ).scalar_one_or_none()

    async def infos(self, user_ids: Sequence[str]) -> dict[str, UserInfo]:
        """The accounts among `user_ids` that exist, by id."""
        if not user_ids:
            return {}
        rows = await self.session.execute(select(User).where(User.id.in_(set(user_ids))))
        return {u.id: UserInfo.of(u) for u in rows.scalars()}

    async def count(self) -> int:
        return (await self.session.execute(select(func.count()).select_from(User))).scalar_one()

    async def page(self, skip: int, limit: int) -> list[User]:
        stmt = select(User).order_by(User.created_at, User.id).offset(skip).limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    async def admins(self) -> list[User]:
        return list(
            (await self.session.execute(select(User).where(User.role == "admin"))).scalars()
        )

    # --- writes (in the caller's transaction, which commits) ------------------------
    async def insert(
        self, *, email: str, name: str, role: str, profile_image_url: str, password_hash: str
    ) -> User:
        """Add an account and flush: IntegrityError when its email is taken (concurrently)."""
        stamp = now()
        user = User(
            id=new_id(),
            email=email,
            name=name,
            role=role,
            profile_image_url=profile_image_url,
            password_hash=password_hash,
            token_epoch=0,
            created_at=stamp,
            updated_at=stamp,
            last_active_at=stamp,
        )
        self.session.add(user)
        await self.session.flush()
        return user

    async def set_role(self, user_id: str, role: str) -> User | None:
        row = await self.get(user_id)
        if row is not None:
            row.role = role
        return row

    async def update_profile(self, user_id: str, name: str, profile_image_url: str) -> User | None:
        row = await self.get(user_id)
        if row is not None:
            row.name, row.profile_image_url, row.updated_at = name, profile_image_url, now()
        return row

    async def touch_active(self, user_id: str) -> None:
        await self.session.execute(
            update(User).where(User.id == user_id).values(last_active_at=now())
        )

    async def replace_password_hash(self, user_id: str, old_hash: str, new_hash: str) -> bool:
        """Compare-and-set on the old hash, ending every session (the token epoch moves on):
        of two concurrent changes from the same old password, only one succeeds."""
        result = await self.session.execute(
            update(User)
            .where(User.id == user_id, User.password_hash == old_hash)
            .values(password_hash=new_hash, token_epoch=User.token_epoch + 1, updated_at=now())
        )
        return bool(affected(result))
