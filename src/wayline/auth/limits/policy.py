"""What a credential may do: the limit fields, their ceilings, and the effective `Limits`.

Fields (LiteLLM's names), each None when not set:

- `rpm_limit`: requests per minute; `tpm_limit`: tokens (prompt + completion) per minute;
- `max_parallel_requests`: requests in flight at once (a stream counts until it ends);
- `token_budget` over `budget_duration` (`"30s"`, `"15m"`, `"12h"`, `"30d"`; rolling): tokens
  allowed in any such span; without a duration the budget never renews;
- `models`: the model ids allowed, `*` matching any run of characters (`gpt-4o*`);
- `scopes`: the route families allowed (`routes.py`); not set = all the user may do.

An admin sets a user's values (`user_limits`): the defaults of the user's keys and their
ceiling, and the limits of the user's sessions. A key asking more than its user's ceiling is
refused when it is set (`ceiling_violation`); if the ceiling is lowered later, the effective
limits are clamped to it (`effective`), so a key never exceeds it either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

Scope = Literal[
    "chat",
    "models",
    "files",
    "knowledge",
    "retrieval",
    "images",
    "audio",
    "ollama",
    "openai",
    "admin",
]
SCOPES: tuple[str, ...] = get_args(Scope)

_DURATION = re.compile(r"^([1-9][0-9]{0,6})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION_SECONDS = 3650 * 86400
# A budget without a duration never renews: a window longer than any deployment lives.
LIFETIME_SECONDS = MAX_DURATION_SECONDS


def duration_seconds(text: str) -> int:
    """`"30d"` → 2592000; ValueError naming the accepted forms otherwise."""
    found = _DURATION.match(text.strip())
    if found is None:
        raise ValueError(
            f"'{text}' is not a duration: a whole number and a unit, s, m, h or d (e.g. '30d')"
        )
    seconds = int(found[1]) * _UNIT_SECONDS[found[2]]
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"'{text}' is longer than 3650 days")
    return seconds


def glob_pattern(globs: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern matching any of `globs` whole; `*` is the only wildcard (model ids hold `.`,
    `:`, `/`, `[` as plain characters)."""
    alternatives = (".*".join(re.escape(part) for part in glob.split("*")) for glob in globs)
    return re.compile("|".join(f"(?:{alt})" for alt in alternatives), re.DOTALL)


@dataclass(frozen=True, slots=True)
class LimitValues:
    """One set of limit fields as stored, a key's or a user's."""

    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None
    token_budget: int | None = None
    budget_duration: str | None = None
    models: tuple[str, ...] | None = None
    scopes: tuple[str, ...] | None = None

    @classmethod
    def of(cls, row: object) -> LimitValues:
        """The fields of a table row (or a form) that has them; lists become tuples, and an
        empty list is not set (LiteLLM's `models: []` = every model)."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            value = getattr(row, field.name, None)
            if isinstance(value, list | tuple):
                value = tuple(value) or None
            values[field.name] = value
        return cls(**values)

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, field.name) is None for field in fields(self))


_NUMERIC = ("rpm_limit", "tpm_limit", "max_parallel_requests", "token_budget")


def ceiling_violation(
    key: LimitValues, user: LimitValues, is_admin: bool
) -> tuple[str, str] | None:
    """The first field of `key` that asks more than `user` allows: (field, why), or None."""
    for name in _NUMERIC:
        mine, ceiling = getattr(key, name), getattr(user, name)
        if mine is not None and ceiling is not None and mine > ceiling:
            return name, f"{name} {mine} exceeds this user's ceiling of {ceiling}"
    if key.budget_duration is not None and user.token_budget is not None:
        floor = user.budget_duration
        if floor is None or duration_seconds(key.budget_duration) < duration_seconds(floor):
            # A shorter span renews sooner: the key could spend more than the user's budget.
            return "budget_duration", (
                f"budget_duration {key.budget_duration} renews sooner than this user's "
                f"budget ({floor or 'never renews'})"
            )
    if key.models is not None and user.models is not None:
        allowed = glob_pattern(user.models)
        for glob in key.models:
            # Sound for `*`-only globs: a `*` in the key's glob can only be matched by a `*` of
            # the user's, so every id the key's glob matches, the user's matches too.
            if allowed.fullmatch(glob) is None:
                return "models", f"models: '{glob}' is outside this user's allowed models"
    if key.scopes is not None:
        ceiling_scopes = set(user.scopes) if user.scopes is not None else set(SCOPES)
        if not is_admin:
            ceiling_scopes.discard("admin")
        for scope in key.scopes:
            if scope not in ceiling_scopes:
                return "scopes", f"scopes: '{scope}' is beyond what this user may do"
    return None


@dataclass(frozen=True, slots=True)
class Limits:
    """The effective limits of one credential. `owner` names its counters: `k:<key id>` for a
    key, `u:<user id>` for the user's sessions (all of them share one set)."""

    owner: str
    rpm: int | None = None
    tpm: int | None = None
    parallel: int | None = None
    budget: int | None = None
    budget_seconds: int = LIFETIME_SECONDS
    model_patterns: tuple[re.Pattern[str], ...] = ()  # a model must match each (key, user)
    scopes: frozenset[str] | None = None
    key_restricted: bool = False  # the key has limits of its own (it may not manage keys)

    @property
    def counted(self) -> bool:
        """Whether any counter applies (scopes and models alone need none)."""
        return any(v is not None for v in (self.rpm, self.tpm, self.parallel, self.budget))

    def allows_scope(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes

    def allows_model(self, model_id: str) -> bool:
        return all(pattern.fullmatch(model_id) for pattern in self.model_patterns)


def _least(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _budget_seconds(*durations: str | None) -> int:
    """The longest of the spans (a budget renewing later is the stricter one)."""
    return max(
        (LIFETIME_SECONDS if d is None else duration_seconds(d) for d in durations),
        default=LIFETIME_SECONDS,
    )


def effective(owner: str, key: LimitValues | None, user: LimitValues | None) -> Limits | None:
    """The limits a credential works under: each field the stricter of the key's and the user's
    (a session: the user's alone). None when nothing is set, the common case, which costs the
    request nothing."""
    key = key or LimitValues()
    user = user or LimitValues()
    if key.is_empty and user.is_empty:
        return None
    budget = _least(key.token_budget, user.token_budget)
    spans = [v.budget_duration for v in (key, user) if v.token_budget is not None]
    if key.token_budget is None and key.budget_duration is not None:
        spans.append(key.budget_duration)
    scopes: frozenset[str] | None = None
    for values in (key, user):
        if values.scopes is not None:
            own = frozenset(values.scopes)
            scopes = own if scopes is None else scopes & own
    return Limits(
        owner=owner,
        rpm=_least(key.rpm_limit, user.rpm_limit),
        tpm=_least(key.tpm_limit, user.tpm_limit),
        parallel=_least(key.max_parallel_requests, user.max_parallel_requests),
        budget=budget,
        budget_seconds=_budget_seconds(*spans) if budget is not None else LIFETIME_SECONDS,
        model_patterns=tuple(
            glob_pattern(values.models) for values in (key, user) if values.models is not None
        ),
        scopes=scopes,
        key_restricted=not key.is_empty,
    )
