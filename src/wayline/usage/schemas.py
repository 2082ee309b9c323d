"""Wire models of the usage reports (`GET /api/v1/usage`, `GET /api/v1/usage/all`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class UsageTotals(BaseModel):
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    errors: int  # calls answered with a status of 400 or more (a failed stream counts as 502)
    average_latency_ms: float


class UsageGroup(UsageTotals):
    """One group's totals; only the field the report is grouped by is present."""

    model: str | None = None
    api_key_id: str | None = None  # group_by=key: null for calls made with a JWT session
    user_id: str | None = None
    name: str | None = None  # group_by=user: the account's name and email (null once deleted)
    email: str | None = None
    day: str | None = None  # group_by=day: YYYY-MM-DD, UTC


class UsageReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: int = Field(alias="from", description="first second counted (epoch seconds)")
    end: int = Field(alias="to", description="last second counted (epoch seconds)")
    group_by: str
    data: list[UsageGroup]
    totals: UsageTotals
