"""SQL for accounts. Other domains reach the `user` table only through this module: the
`UserRepository` methods, and `with_user` / `is_admin` for queries of theirs that must join or
test an account in the same statement (a credential lookup, a collection's owner)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from wayline.core.clock import new_id, now
from wayline.core.db import affected
from wayline.users.schemas import UserInfo
from wayline.users.tables import GroupMember, User

# A user id in another domain's query: a mapped attribute (`ApiKey.user_id`) or a column.
UserIdColumn = ColumnElement[Any] | QueryableAttribute[Any]

# Open WebUI's `order_by` values for user lists (plus `group_id:<id>`: that group's members first).
SORTABLE = {
    "name": User.name,
    "email": User.email,
    "created_at": User.created_at,
    "last_active_at": User.last_active_at,
    "updated_at": User.updated_at,
    "role": User.role,
}


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

    async def search(
        self,
        query: str | None,
        order_by: str | None,
        direction: str | None,
        skip: int | None = None,
        limit: int | None = None,
    ) -> tuple[list[User], int]:
        """Accounts whose name or email contains `query` (any case), sorted as Open WebUI sorts
        (`order_by`, `direction` "asc" or otherwise descending; newest first by default)."""
        stmt = select(User)
        if query:
            pattern = f"%{query.lower()}%"
            stmt = stmt.where(
                or_(func.lower(User.name).like(pattern), func.lower(User.email).like(pattern))
            )
        total = (
            await self.session.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        ascending = direction == "asc"
        if order_by and order_by.startswith("group_id:"):
            member = exists().where(
                GroupMember.user_id == User.id, GroupMember.group_id == order_by[9:]
            )
            first = case((member, 1), else_=0)
            stmt = stmt.order_by(first.asc() if ascending else first.desc(), User.name.asc())
        elif order_by in SORTABLE:
            column = SORTABLE[order_by]
            stmt = stmt.order_by(column.asc() if ascending else column.desc())
        else:
            stmt = stmt.order_by(User.created_at.desc())
        stmt = stmt.order_by(User.id).offset(skip).limit(limit)
        return list((await self.session.execute(stmt)).scalars()), total

    async def lock(self, user_id: str) -> User | None:
        """The account, its row locked for this (write) transaction on PostgreSQL: concurrent
        merges into one of its documents (settings, info) apply one after the other."""
        stmt = select(User).where(User.id == user_id).with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

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

    async def end_sessions(self, user_id: str) -> bool:
        """Move the token epoch on: every JWT issued to the account stops working."""
        result = await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(token_epoch=User.token_epoch + 1, updated_at=now())
        )
        return bool(affected(result))

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
