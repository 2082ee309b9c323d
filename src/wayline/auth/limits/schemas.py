"""The limit fields on the wire: in key forms, key listings and a user's limits."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, field_validator

from wayline.auth.limits.policy import LimitValues, Scope, duration_seconds

ModelGlob = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
_MAX_COUNT = 10**9
_MAX_TOKENS = 10**15


class LimitFields(BaseModel):
    """Each field unset (null) = no limit of its own (a key then inherits its user's)."""

    rpm_limit: int | None = Field(default=None, ge=1, le=_MAX_COUNT, description="requests/min")
    tpm_limit: int | None = Field(default=None, ge=1, le=_MAX_TOKENS, description="tokens/min")
    max_parallel_requests: int | None = Field(default=None, ge=1, le=_MAX_COUNT)
    token_budget: int | None = Field(
        default=None, ge=1, le=_MAX_TOKENS, description="tokens per budget_duration"
    )
    budget_duration: str | None = Field(
        default=None,
        max_length=16,
        description="rolling span of the budget: 30s, 15m, 12h, 30d (none: never renews)",
    )
    models: list[ModelGlob] | None = Field(
        default=None,
        max_length=256,
        description="model ids allowed, `*` matching anything (gpt-4o*); [] or none: all",
    )
    scopes: list[Scope] | None = Field(
        default=None, max_length=16, description="route families allowed; none: all"
    )

    @field_validator("budget_duration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            value = value.strip()
            duration_seconds(value)
        return value

    @field_validator("models", "scopes")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        return list(dict.fromkeys(value)) if value else None

    def limit_values(self) -> LimitValues:
        return LimitValues.of(self)


class LimitsInfo(BaseModel):
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None
    token_budget: int | None = None
    budget_duration: str | None = None
    models: list[str] | None = None
    scopes: list[str] | None = None


class UserLimitsResponse(LimitsInfo):
    """An admin's limits for a user: the defaults and ceiling of the user's keys, and the limits
    of the user's sessions. `updated_at` is null while none were ever set."""

    user_id: str
    updated_at: int | None = None


def wire_fields(values: LimitValues) -> dict[str, Any]:
    """`values` as `LimitsInfo`'s fields (lists, not tuples)."""
    return {
        "rpm_limit": values.rpm_limit,
        "tpm_limit": values.tpm_limit,
        "max_parallel_requests": values.max_parallel_requests,
        "token_budget": values.token_budget,
        "budget_duration": values.budget_duration,
        "models": list(values.models) if values.models is not None else None,
        "scopes": list(values.scopes) if values.scopes is not None else None,
    }
