"""What the admin page shows, read through the domains' own services (the same ones behind
`/api/v1/users/`, `/api/v1/connections/health` and `/api/v1/usage/all`), and the names of the
API keys in the usage report."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.auth.repository import key_names
from wayline.core.bus import Bus
from wayline.usage.service import UsageService
from wayline.users.schemas import UserWithGroups
from wayline.users.service import UserService
from wayline.web.charts import Chart, bar_chart, days

USERS_SHOWN = 1000
DAY = 86_400


async def accounts(session: AsyncSession, bus: Bus) -> tuple[list[UserWithGroups], int]:
    """Accounts, those waiting for approval first, then the newest."""
    listed = await UserService(session, bus).list(None, "created_at", "desc", 1, USERS_SHOWN)
    users = sorted(listed.users, key=lambda u: u.role != "pending")  # stable: newest first kept
    return users, listed.total


@dataclass(frozen=True)
class Usage:
    days: int
    chart: Chart
    by_user: list[dict[str, Any]]
    by_key: list[dict[str, Any]]
    by_model: list[dict[str, Any]]
    totals: dict[str, Any]


async def usage(session: AsyncSession, span_days: int, now: float | None = None) -> Usage:
    """Everyone's usage over the last `span_days` UTC days: tokens per day, and per user, key
    and model (the most tokens first)."""
    now = time.time() if now is None else now
    labels = days(datetime.fromtimestamp(now, UTC), span_days)
    start = int(datetime.fromisoformat(labels[0]).replace(tzinfo=UTC).timestamp())
    service = UsageService(session)

    async def grouped(group_by: str) -> dict[str, Any]:
        return await service.report(start=start, end=int(now), group_by=group_by, user_id=None)

    per_day = {row["day"]: row["total_tokens"] for row in (await grouped("day"))["data"]}
    chart = bar_chart(
        [(day, per_day.get(day, 0)) for day in labels], label_every=max(1, span_days // 7)
    )
    tables = {}
    for group_by in ("user", "key", "model"):
        report = await grouped(group_by)
        tables[group_by] = sorted(report["data"], key=lambda r: -r["total_tokens"])
    names = await key_names(session, [r["api_key_id"] for r in tables["key"] if r["api_key_id"]])
    tables["key"] = [{**r, "key_name": names.get(r["api_key_id"] or "")} for r in tables["key"]]
    return Usage(
        days=span_days,
        chart=chart,
        by_user=tables["user"],
        by_key=tables["key"],
        by_model=tables["model"],
        totals=report["totals"],
    )
