"""SQL for the usage ledger: batches in, totals per group out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, case, func, insert, literal_column, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from wayline.core.usage import CallUsage
from wayline.usage.tables import UsageRecord

DAY = 86_400

# What a report can group by: the column (or expression) each group shares.
GROUPS: dict[str, ColumnElement[Any]] = {
    "model": UsageRecord.model.expression,
    "key": UsageRecord.api_key_id.expression,
    "user": UsageRecord.user_id.expression,
    # A literal divisor: PostgreSQL matches the select list's expression to GROUP BY's only when
    # they are the same text, and two bound parameters are not.
    "day": (UsageRecord.created_at // type_coerce(literal_column(str(DAY)), BigInteger)).expression,
}


@dataclass(frozen=True)
class GroupTotals:
    group: Any  # the model, key id (None: JWT sessions), user id, or day number since the epoch
    requests: int
    prompt_tokens: int
    completion_tokens: int
    errors: int
    latency_ms_sum: float


class UsageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_all(self, records: Sequence[CallUsage]) -> None:
        rows = [
            {
                "created_at": r.created_at,
                "kind": r.kind,
                "user_id": r.user_id,
                "api_key_id": r.api_key_id,
                "model": r.model,
                "connection": r.connection,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "status": r.status,
                "latency_ms": r.latency_ms,
                "time_to_first_token_ms": r.time_to_first_token_ms,
                "estimated": r.estimated,
            }
            for r in records
        ]
        await self.session.execute(insert(UsageRecord), rows)

    async def totals(
        self, *, since: int, until: int, group_by: str, user_id: str | None
    ) -> list[GroupTotals]:
        """Totals per group of the calls that started in [since, until] (epoch seconds), of one
        user or (`user_id` None) of everyone."""
        group = GROUPS[group_by].label("grp")
        stmt = (
            select(
                group,
                func.count(),
                func.coalesce(func.sum(UsageRecord.prompt_tokens), 0),
                func.coalesce(func.sum(UsageRecord.completion_tokens), 0),
                func.coalesce(func.sum(case((UsageRecord.status >= 400, 1), else_=0)), 0),
                func.coalesce(func.sum(UsageRecord.latency_ms), 0.0),
            )
            .where(UsageRecord.created_at >= since, UsageRecord.created_at <= until)
            .group_by(group)
        )
        if user_id is not None:
            stmt = stmt.where(UsageRecord.user_id == user_id)
        rows = (await self.session.execute(stmt)).all()
        return [
            GroupTotals(g, int(n), int(prompt), int(completion), int(errors), float(latency))
            for g, n, prompt, completion, errors, latency in rows
        ]
