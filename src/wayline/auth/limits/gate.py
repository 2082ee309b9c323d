"""The one place a credential's limits are enforced.

`enforce(request, limits)` runs in `auth.deps.current_principal`, which every authenticated
route calls (the fast chat routes too), whatever carried the credential (Bearer JWT or key,
`x-api-key`, the `token` cookie):

1. scope: the route family (`routes.py`) must be in the credential's scopes, else 403;
2. model: kept for `allow_model`, which the places that resolve a model call (the providers'
   registry, images, audio): a model outside the allow-list is a 403 naming it;
3. counters, on the requests that call models: RPM (1 per request), TPM and the budget (the
   prompt's estimate reserved: a token per 4 bytes of the JSON body, at most the limit), and an
   in-flight place, taken in one call (in Redis, one round trip). A refused request gives back
   what it took (but its RPM hit: OpenAI counts refused requests too).

The `Admission` lives as long as the request: `LimitsMiddleware` adds its `x-ratelimit-*`
headers to the answer and, once the answer has ended (a stream included, or its client gone),
settles it: the in-flight place is freed, and the reservation is corrected to the tokens the
calls really used, which the usage seam reports (`observe`, once per finished model call).

Refusals: 429 with OpenAI's error object (`rate_limit_exceeded`, or `insufficient_quota` with
`x-should-retry: false` for a spent budget), `retry-after` and `retry-after-ms`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Coroutine
from contextvars import ContextVar, Token
from typing import Any

from starlette.requests import Request

from wayline.auth.limits.policy import Limits
from wayline.auth.limits.routes import family_of, is_metered
from wayline.auth.limits.windows import Counters, CountersDown, Lease, Window, WindowState
from wayline.core import errors
from wayline.core.metrics import RATELIMIT_FAIL_OPEN, RATELIMIT_REJECTIONS
from wayline.core.state import get_state
from wayline.core.usage import CallUsage

log = logging.getLogger("wayline.limits")

BYTES_PER_TOKEN = 4  # the prompt estimate: OpenAI's rule of thumb, on the whole JSON body
RPM_SECONDS = TPM_SECONDS = 60


class RequestSlot:
    """What the limits know of one HTTP request, shared with everything that runs for it (the
    middleware opens it; tasks the request starts see the same object)."""

    __slots__ = ("admission", "limits")

    def __init__(self) -> None:
        self.limits: Limits | None = None
        self.admission: Admission | None = None


_SLOT: ContextVar[RequestSlot | None] = ContextVar("wayline_limits", default=None)


def open_slot() -> tuple[RequestSlot, Token[RequestSlot | None]]:
    slot = RequestSlot()
    return slot, _SLOT.set(slot)


def close_slot(token: Token[RequestSlot | None]) -> None:
    _SLOT.reset(token)


def _holder(limits: Limits) -> str:
    return "API key" if limits.owner.startswith("k:") else "account"


def missing_scope(scope: str) -> errors.Forbidden:
    RATELIMIT_REJECTIONS.labels(kind="scope").inc()
    return errors.Forbidden(
        errors.CodedText(f"This credential lacks the '{scope}' scope", "missing_scope")
    )


def current_limits() -> Limits | None:
    """The limits of the credential this request came with (None: none, or no request)."""
    slot = _SLOT.get()
    return slot.limits if slot is not None else None


def model_listed(model_id: str) -> bool:
    """Whether a model list shows `model_id` to the request's credential (its allow-list)."""
    limits = current_limits()
    return limits is None or limits.allows_model(model_id)


def allow_model(model_id: str) -> None:
    """403 naming `model_id` when the request's credential has an allow-list without it."""
    limits = current_limits()
    if limits is not None and not limits.allows_model(model_id):
        RATELIMIT_REJECTIONS.labels(kind="model").inc()
        raise errors.Forbidden(
            errors.CodedText(
                f"Model '{model_id}' is not allowed for this {_holder(limits)}",
                "model_not_allowed",
            )
        )


class LimitExceeded(errors.TooManyRequests):
    """A 429 an OpenAI client understands on any route: OpenAI's error object (its `type` the
    code), when to retry, and for a spent budget that an immediate retry is pointless."""

    openai_body = True

    def __init__(self, message: str, retry_after: float, *, quota: bool = False) -> None:
        headers = {
            "retry-after": str(max(1, math.ceil(retry_after))),
            "retry-after-ms": str(max(1, math.ceil(retry_after * 1000))),
        }
        if quota:  # a budget renews in hours or days: the OpenAI SDKs must not retry by themselves
            headers["x-should-retry"] = "false"
        code = "insufficient_quota" if quota else "rate_limit_exceeded"
        super().__init__(message, headers=headers, code=code)
        self.error_type = code


def reset_text(seconds: float) -> str:
    """A duration as OpenAI's `x-ratelimit-reset-*` headers write it: `20ms`, `1.5s`, `6m0s`."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text


async def prompt_estimate(request: Request) -> int:
    """The tokens reserved before the call: a token per 4 bytes of the JSON body (OpenAI's rule of
    thumb for English; the JSON around the text makes it an overestimate, given back when the
    call's real usage is known). An upload's bytes (audio, images) count for nothing."""
    headers = request.headers
    if "json" not in headers.get("content-type", ""):
        return 0
    length = headers.get("content-length")
    size = int(length) if length is not None and length.isdigit() else len(await request.body())
    return -(-size // BYTES_PER_TOKEN)


class LimitGate:
    """The counters and what runs after the requests: the usage observer, the settling tasks."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def observe(self, usage: CallUsage) -> None:
        """The usage seam: a finished call's tokens, charged to the request that made it."""
        slot = _SLOT.get()
        if slot is not None and slot.admission is not None:
            slot.admission.record(usage.total_tokens)

    async def finish(self, admission: Admission) -> None:
        """The request's answer has ended (its client has it all): settle it. In Redis, shielded:
        a request cancelled meanwhile (a shutdown) still frees its place."""
        if self.counters.local:
            await admission.close()
        else:
            await asyncio.shield(admission.close())

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.counters.close()


async def enforce(request: Request, limits: Limits) -> None:
    scope = request.scope
    family = family_of(scope["path"])
    if family is not None and not limits.allows_scope(family):
        raise missing_scope(family)
    slot = _SLOT.get()
    if slot is None or slot.limits is not None:
        return  # outside `LimitsMiddleware`, or already admitted
    slot.limits = limits
    if not limits.counted or not is_metered(family, scope["method"]):
        return
    gate = get_state(request).find(LimitGate)
    if gate is None:
        return
    admission = slot.admission = Admission(gate, limits)
    await admission.enter(await prompt_estimate(request) if limits.tpm or limits.budget else 0)


class Admission:
    """One counted request: what it took from the counters, and its settling at the end."""

    def __init__(self, gate: LimitGate, limits: Limits) -> None:
        self.gate = gate
        self.limits = limits
        owner = limits.owner
        self.windows: dict[str, Window] = {}  # in the order refusals are reported
        if limits.budget:  # the span is in the key: a new duration starts a new window
            key = f"budget/{owner}/{limits.budget_seconds}"
            self.windows["budget"] = Window(key, limits.budget, limits.budget_seconds)
        if limits.rpm:
            self.windows["rpm"] = Window(f"rpm/{owner}", limits.rpm, RPM_SECONDS)
        if limits.tpm:
            self.windows["tpm"] = Window(f"tpm/{owner}", limits.tpm, TPM_SECONDS)
        self.lease = (
            Lease(f"parallel/{owner}", limits.parallel, uuid.uuid4().hex)
            if limits.parallel
            else None
        )
        self.taken: dict[str, int] = {}  # what each window holds for this request
        self.leased = False
        self.states: dict[str, WindowState] = {}  # after the counting: the headers' figures
        self.used = 0  # tokens the request's calls reported
        self.counting = False  # admitted with its counters (not refused, not failed open)
        self.failed_open = False
        self.closed = False

    # --- admission ------------------------------------------------------------------------
    async def enter(self, estimate: int) -> None:
        amounts = {
            "budget": max(1, min(estimate, self.limits.budget or 0)),
            "rpm": 1,
            "tpm": max(1, min(estimate, self.limits.tpm or 0)),
        }
        asked = [(window, amounts[name]) for name, window in self.windows.items()]
        try:
            got = await self.gate.counters.take(asked, self.lease)
        except CountersDown:
            self.failed_open = True
            RATELIMIT_FAIL_OPEN.inc()
            return
        refused: str | None = None
        for name, (counted, state) in zip(self.windows, got.windows, strict=True):
            self.states[name] = state
            if counted:
                self.taken[name] = amounts[name]
            elif refused is None:
                refused = name
        self.leased = bool(got.leased)
        if refused is None and got.leased is False:
            refused = "parallel"
        if refused is not None:
            raise await self._refuse(refused, amounts.get(refused, 1))
        self.counting = True

    async def _refuse(self, kind: str, amount: int) -> LimitExceeded:
        """Give back what the request took (but its request count: OpenAI counts refused
        requests too) and say why, and when to retry."""
        RATELIMIT_REJECTIONS.labels(kind=kind).inc()
        counters = self.gate.counters
        try:
            if self.leased and self.lease is not None:
                await counters.unlease(self.lease)
            for name, taken in self.taken.items():
                if name != "rpm":
                    await counters.add(self.windows[name], -taken)
        except CountersDown:
            pass  # the lease runs out by itself; the reservation stays counted
        self.taken, self.leased = {}, False
        state = self.states.get(kind)
        wait = state.wait_for(amount) if state is not None else 1.0
        limits, who = self.limits, _holder(self.limits)
        if kind == "budget":
            return LimitExceeded(
                f"Token budget exhausted: this {who} may use {limits.budget} tokens per "
                f"{reset_text(limits.budget_seconds)}; it renews in {reset_text(wait)}.",
                wait,
                quota=True,
            )
        if kind == "rpm":
            message = f"Rate limit reached for requests: this {who} allows {limits.rpm} per minute."
        elif kind == "tpm":
            left = state.remaining if state is not None else 0
            message = (
                f"Rate limit reached for tokens: this {who} allows {limits.tpm} per minute; "
                f"{left} are left and this request needs about {amount}."
            )
        else:
            message = f"Too many requests in flight: this {who} allows {limits.parallel} at once."
        return LimitExceeded(f"{message} Retry in {reset_text(wait)}.", wait)

    # --- the answer -----------------------------------------------------------------------
    def headers(self) -> list[tuple[bytes, bytes]]:
        """OpenAI's `x-ratelimit-*` headers for the RPM and TPM windows, as the request was
        counted (or refused)."""
        out: list[tuple[bytes, bytes]] = []
        for name, unit in (("rpm", b"requests"), ("tpm", b"tokens")):
            state = self.states.get(name)
            if state is not None:
                out += [
                    (b"x-ratelimit-limit-" + unit, str(state.limit).encode()),
                    (b"x-ratelimit-remaining-" + unit, str(state.remaining).encode()),
                    (b"x-ratelimit-reset-" + unit, reset_text(state.reset_in()).encode()),
                ]
        return out

    # --- settling -------------------------------------------------------------------------
    def record(self, tokens: int) -> None:
        """A finished call's tokens (synchronous: called on the request path)."""
        if not self.counting or tokens <= 0:
            return
        if not self.closed:
            self.used += tokens
        else:  # a call that finished after the answer ended (its client went away first)
            self.gate.spawn(self._charge({name: tokens for name in self.taken if name != "rpm"}))

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if not self.counting:
            return
        try:
            if self.leased and self.lease is not None:
                await self.gate.counters.unlease(self.lease)
        except CountersDown:
            pass  # the lease runs out by itself
        used = self.used
        await self._charge({n: used - taken for n, taken in self.taken.items() if n != "rpm"})

    async def _charge(self, amounts: dict[str, int]) -> None:
        """Correct the token windows: the usage beyond the reservation, or what was left."""
        counters = self.gate.counters
        for name, amount in amounts.items():
            if amount:
                try:
                    await counters.add(self.windows[name], amount)
                except CountersDown:
                    return
