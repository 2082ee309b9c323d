from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.auth.tables import ApiKey, RevokedToken


class ApiKeyRepository:
    """API keys, always scoped to their owner: no method reads another user's keys."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self.session = session
        self.user_id = user_id

    async def list(self) -> list[ApiKey]:
        stmt = (
            select(ApiKey)
            .where(ApiKey.user_id == self.user_id)
            .order_by(ApiKey.created_at, ApiKey.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def default(self) -> ApiKey | None:
        stmt = select(ApiKey).where(ApiKey.user_id == self.user_id, ApiKey.is_default.is_(True))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get(self, key_id: str) -> ApiKey | None:
        stmt = select(ApiKey).where(ApiKey.user_id == self.user_id, ApiKey.id == key_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def delete_default(self) -> bool:
        result = await self.session.execute(
            delete(ApiKey).where(ApiKey.user_id == self.user_id, ApiKey.is_default.is_(True))
        )
        return bool(result.rowcount)


async def revoke_token(session: AsyncSession, jti: str, expires_at: int | None) -> None:
    if await session.get(RevokedToken, jti) is None:
        session.add(RevokedToken(jti=jti, expires_at=expires_at))


async def purge_expired_revocations(session: AsyncSession, now: int) -> None:
    """A revoked JWT past its own expiry is rejected anyway; its row is no longer needed."""
    await session.execute(
        delete(RevokedToken).where(
            RevokedToken.expires_at.is_not(None), RevokedToken.expires_at < now
        )
    )
