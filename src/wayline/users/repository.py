from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.users.tables import User


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def by_email(self, email: str) -> User | None:
        return (
            await self.session.execute(select(User).where(User.email == email))
        ).scalar_one_or_none()

    async def count(self) -> int:
        return (await self.session.execute(select(func.count()).select_from(User))).scalar_one()

    async def page(self, skip: int, limit: int) -> list[User]:
        stmt = select(User).order_by(User.created_at, User.id).offset(skip).limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    async def admins(self) -> list[User]:
        return list(
            (await self.session.execute(select(User).where(User.role == "admin"))).scalars()
        )
