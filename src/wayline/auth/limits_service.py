"""A user's limits, set by an admin: the defaults and ceiling of the user's keys, and the limits
of the user's sessions (`auth/limits/policy.py`)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.auth.credentials import Authenticator
from wayline.auth.limits.policy import LimitValues, ceiling_violation
from wayline.auth.limits.repository import save_user_limits, user_limits
from wayline.auth.limits.schemas import LimitFields, UserLimitsResponse, wire_fields
from wayline.core import errors
from wayline.core.clock import now
from wayline.core.db import begin_write
from wayline.users.repository import UserRepository


class UserLimitsService:
    def __init__(self, session: AsyncSession, authenticator: Authenticator) -> None:
        self.session = session
        self.authenticator = authenticator

    async def get(self, user_id: str) -> UserLimitsResponse:
        if await UserRepository(self.session).get(user_id) is None:
            raise errors.NotFound(f"User {user_id} not found")
        row = await user_limits(self.session, user_id)
        if row is None:
            return UserLimitsResponse(user_id=user_id)
        fields = wire_fields(LimitValues.of(row))
        return UserLimitsResponse(user_id=user_id, updated_at=row.updated_at, **fields)

    async def update(self, user_id: str, form: LimitFields) -> UserLimitsResponse:
        """Replace the user's limits (a field left out is cleared). Keys already asking more
        than the new ceiling are held to it from their next request."""
        values = form.limit_values()
        await begin_write(self.session)
        user = await UserRepository(self.session).get(user_id)
        if user is None:
            raise errors.NotFound(f"User {user_id} not found")
        violation = ceiling_violation(values, LimitValues(), user.role == "admin")
        if violation is not None:  # the `admin` scope for someone who is not an admin
            raise errors.BadRequest(violation[1], param=violation[0])
        row = await save_user_limits(self.session, user_id, values, now())
        updated_at = row.updated_at
        try:
            await self.session.commit()
        except IntegrityError as exc:  # the account was deleted meanwhile (PostgreSQL)
            await self.session.rollback()
            raise errors.NotFound(f"User {user_id} not found") from exc
        await self.authenticator.invalidate("limits")  # cached credentials carry the old ones
        return UserLimitsResponse(user_id=user_id, updated_at=updated_at, **wire_fields(values))
