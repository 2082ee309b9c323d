"""SQL for a user's limits (`user_limits`); a key's own are columns of `api_key`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.auth.limits.policy import LimitValues
from wayline.auth.tables import LimitColumns, UserLimits


async def user_limits(session: AsyncSession, user_id: str) -> UserLimits | None:
    return await session.get(UserLimits, user_id)


async def user_limit_values(session: AsyncSession, user_id: str) -> LimitValues | None:
    row = await user_limits(session, user_id)
    return None if row is None else LimitValues.of(row)


async def save_user_limits(
    session: AsyncSession, user_id: str, values: LimitValues, updated_at: int
) -> UserLimits:
    """Replace the user's limits (insert or update; call after `begin_write`)."""
    row = await user_limits(session, user_id)
    if row is None:
        row = UserLimits(user_id=user_id)
        session.add(row)
    write_values(row, values)
    row.updated_at = updated_at
    return row


def write_values(row: LimitColumns, values: LimitValues) -> None:
    """Set a key's or a user's limit columns from `values`."""
    row.rpm_limit = values.rpm_limit
    row.tpm_limit = values.tpm_limit
    row.max_parallel_requests = values.max_parallel_requests
    row.token_budget = values.token_budget
    row.budget_duration = values.budget_duration
    row.models = list(values.models) if values.models is not None else None
    row.scopes = list(values.scopes) if values.scopes is not None else None
