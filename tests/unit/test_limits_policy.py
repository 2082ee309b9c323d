"""The rules of per-key limits that need no server: model globs, ceilings, the effective limits
of a key under its user's, durations, and the waiting time a refusal announces."""

from __future__ import annotations

import math
import random

import pytest

from wayline.auth.limits.policy import (
    LIFETIME_SECONDS,
    LimitValues,
    ceiling_violation,
    duration_seconds,
    effective,
    glob_pattern,
)
from wayline.auth.limits.routes import family_of, is_metered
from wayline.auth.limits.windows import WindowState


def test_globs_have_one_wildcard_and_match_whole_ids() -> None:
    pattern = glob_pattern(("gpt-4o*", "llama3.1:latest"))
    assert pattern.fullmatch("gpt-4o") and pattern.fullmatch("gpt-4o-mini-2024")
    assert pattern.fullmatch("llama3.1:latest")
    assert not pattern.fullmatch("gpt-4-turbo") and not pattern.fullmatch("xgpt-4o")
    assert not pattern.fullmatch("llama3x1:latest")  # `.` is a plain character
    assert glob_pattern(("org/[beta]?",)).fullmatch("org/[beta]?")  # so are `[`, `]` and `?`
    assert not glob_pattern(("org/[beta]?",)).fullmatch("org/b")


@pytest.mark.parametrize(
    ("key_models", "user_models", "within"),
    [
        (("gpt-4o-mini",), ("gpt-*",), True),
        (("gpt-4o*",), ("gpt-*",), True),
        (("gpt-*",), ("gpt-4o*",), False),
        (("*",), ("gpt-*",), False),
        (("gpt-4o*", "llama3*"), ("gpt-*",), False),
        (("a*b*c",), ("a*c",), True),
    ],
)
def test_a_keys_globs_must_lie_within_its_users(
    key_models: tuple[str, ...], user_models: tuple[str, ...], within: bool
) -> None:
    violation = ceiling_violation(
        LimitValues(models=key_models), LimitValues(models=user_models), is_admin=False
    )
    assert (violation is None) is within
    if not within:
        assert violation is not None and violation[0] == "models"


def test_the_glob_ceiling_is_sound_on_random_ids() -> None:
    """Whenever a key's glob is accepted under the user's, every id it matches, the user's
    matches too."""
    rng = random.Random(7)
    alphabet = "ab*"
    for _ in range(3000):
        key_glob = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5)))
        user_glob = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5)))
        accepted = ceiling_violation(
            LimitValues(models=(key_glob,)), LimitValues(models=(user_glob,)), is_admin=False
        )
        if accepted is not None:
            continue
        key_re, user_re = glob_pattern((key_glob,)), glob_pattern((user_glob,))
        for _ in range(20):
            model = "".join(rng.choice("ab") for _ in range(rng.randint(0, 7)))
            if key_re.fullmatch(model):
                assert user_re.fullmatch(model), (key_glob, user_glob, model)


def test_ceilings_name_the_field_that_asks_too_much() -> None:
    user = LimitValues(
        rpm_limit=10, tpm_limit=1000, token_budget=5000, budget_duration="1d", scopes=("chat",)
    )
    assert ceiling_violation(LimitValues(rpm_limit=10, tpm_limit=999), user, False) is None
    cases = {
        "rpm_limit": LimitValues(rpm_limit=11),
        "tpm_limit": LimitValues(tpm_limit=1001),
        "token_budget": LimitValues(token_budget=5001),
        "budget_duration": LimitValues(budget_duration="23h"),
        "scopes": LimitValues(scopes=("files",)),
    }
    for field, key in cases.items():
        found = ceiling_violation(key, user, False)
        assert found is not None and found[0] == field and field.split("_")[0] in found[1]
    # `admin` is beyond any user who is not an admin, with or without a ceiling of scopes.
    assert ceiling_violation(LimitValues(scopes=("admin",)), LimitValues(), False) is not None
    assert ceiling_violation(LimitValues(scopes=("admin",)), LimitValues(), True) is None


def test_effective_limits_are_the_stricter_of_key_and_user() -> None:
    assert effective("k:1", LimitValues(), None) is None  # nothing set: no cost at all
    user = LimitValues(
        rpm_limit=5, token_budget=100, budget_duration="1d", scopes=("chat", "models")
    )
    key = LimitValues(rpm_limit=50, tpm_limit=10, budget_duration="7d", scopes=("chat", "files"))
    limits = effective("k:1", key, user)
    assert limits is not None
    assert limits.rpm == 5 and limits.tpm == 10  # clamped to the user's; the key's own
    assert limits.budget == 100 and limits.budget_seconds == 7 * 86400  # the longer span
    assert limits.scopes == frozenset({"chat"}) and limits.key_restricted
    session = effective("u:1", None, user)
    assert session is not None and not session.key_restricted and session.rpm == 5
    lifetime = effective("k:2", LimitValues(token_budget=10), None)
    assert lifetime is not None and lifetime.budget_seconds == LIFETIME_SECONDS
    both = effective("k:3", LimitValues(models=("gpt-4o*",)), LimitValues(models=("*-mini",)))
    assert both is not None
    assert both.allows_model("gpt-4o-mini") and not both.allows_model("gpt-4o")
    assert LimitValues.of(type("Row", (), {"models": [], "scopes": None})()).models is None


def test_durations() -> None:
    assert duration_seconds("30d") == 30 * 86400 and duration_seconds("15m") == 900
    assert duration_seconds("12h") == 43200 and duration_seconds("45s") == 45
    for bad in ("30", "1w", "0d", "-1d", "1.5h", "3651d", "d"):
        with pytest.raises(ValueError):
            duration_seconds(bad)


def test_route_families() -> None:
    assert family_of("/api/chat/completions") == "chat"
    assert family_of("/api/v1/messages/count_tokens") == "chat"
    assert family_of("/api/v1/files/abc/content") == "files"
    assert family_of("/api/v1/filesystem") is None  # a prefix ends at a `/`
    assert family_of("/ollama/api/chat") == "ollama" and family_of("/openai/models") == "openai"
    assert family_of("/api/v1/auths/") is None and family_of("/api/models") == "models"
    assert is_metered("chat", "POST") and not is_metered("chat", "GET")
    assert not is_metered("files", "POST") and not is_metered(None, "POST")


def admits(state: WindowState, amount: int, after: float) -> bool:
    """The `limits` library's rule for a sliding-window counter, `after` seconds later (the
    current period becomes the previous one when it ends)."""
    seconds = state.seconds
    shift_in = state.current_ttl - seconds
    if after < shift_in:
        previous, weight, current = (
            state.previous,
            (state.previous_ttl - after) / seconds,
            state.current,
        )
    else:
        previous, weight, current = state.current, 1 - (after - shift_in) / seconds, 0
    return math.floor(previous * max(0.0, weight)) + current + amount <= state.limit


def test_the_announced_wait_is_when_the_request_would_fit() -> None:
    rng = random.Random(3)
    for _ in range(5000):
        seconds = 60
        limit = rng.randint(1, 50)
        current_left = rng.uniform(0.01, seconds)
        state = WindowState(
            limit=limit,
            seconds=seconds,
            previous=rng.randint(0, 2 * limit),
            previous_ttl=current_left,  # the previous period weighs until the current one ends
            current=rng.randint(0, limit + 3),
            current_ttl=current_left + seconds,
        )
        amount = rng.randint(1, limit)
        wait = state.wait_for(amount)
        assert admits(state, amount, wait + 1e-6), (state, amount, wait)
        if wait > 0.01:
            assert not admits(state, amount, wait - 0.01), (state, amount, wait)


async def test_memory_windows_admit_exactly_as_the_limits_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`MemoryCounters` keeps its own integers: on a random run of hits and corrections across
    periods, it admits exactly what `limits`' own sliding window does."""
    import time

    from limits import RateLimitItemPerSecond
    from limits.aio.storage import MemoryStorage
    from limits.aio.strategies import SlidingWindowCounterRateLimiter

    from wayline.auth.limits.windows import MemoryCounters, Window

    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    rng = random.Random(12)
    ours = MemoryCounters()
    window = Window("rpm/k:test", 20, 10)
    reference = SlidingWindowCounterRateLimiter(MemoryStorage())
    item = RateLimitItemPerSecond(20, 10)
    admitted = 0
    for _ in range(600):
        clock[0] += rng.choice([0.0, 0.05, 0.3, 1.1, 4.0])
        amount = rng.randint(1, 4)
        taken = (await ours.take([(window, amount)], None)).windows[0]
        expected = await reference.hit(item, "k", cost=amount)
        assert taken[0] == expected, f"at {clock[0]}: ours {taken[0]}, limits {expected}"
        admitted += expected
    assert 0 < admitted < 600  # the run exercised both answers
