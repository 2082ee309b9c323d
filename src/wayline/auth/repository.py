"""SQL for API keys and revoked sessions."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.auth.tables import ApiKey, RevokedToken
from wayline.core.db import affected
from wayline.users.repository import with_user
from wayline.users.schemas import UserInfo


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
        return bool(affected(result))


async def key_with_owner(session: AsyncSession, key_hash: str) -> tuple[ApiKey, UserInfo] | None:
    """The API key with this hash and its owner, in one query (a credential lookup)."""
    stmt = with_user(select(ApiKey), ApiKey.user_id).where(ApiKey.key_hash == key_hash)
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    key, user = row
    return key, UserInfo.of(user)


async def key_names(session: AsyncSession, key_ids: list[str]) -> dict[str, str]:
    """The names of these keys, whoever owns them: for an administrator's usage report (keys
    revoked since are absent)."""
    if not key_ids:
        return {}
    stmt = select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(key_ids))
    return {key_id: name for key_id, name in (await session.execute(stmt)).all()}


async def touch_key(session: AsyncSession, key_id: str, used_at: int) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=used_at))


async def is_revoked(session: AsyncSession, jti: str) -> bool:
    return await session.get(RevokedToken, jti) is not None


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
