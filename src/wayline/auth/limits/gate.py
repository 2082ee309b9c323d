"""The one place a credential's limits are enforced.

`enforce(request, limits)` runs in `auth.deps.current_principal`, which every authenticated
route calls (the fast chat routes too), whatever carried the credential (Bearer JWT or key,
`x-api-key`, the `token` cookie):

1. scope: the route family (`routes.py`) must be in the credential's scopes, else 403;
2. model: kept for `allow_model`, which the places that resolve a model call (the providers'
   registry, images, audio): a model outside the allow-list is a 403 naming it;
3. counters, on the requests that call models: RPM (1 per request), TPM and the budget (the
   prompt's estimate reserved: a token per 4 bytes of the JSON body, at most the limit), and an
   in-flight place. All-or-nothing: a refused request gives back what it took (but its RPM hit,
   as OpenAI counts refused requests). In Redis, one round trip per counter, all at once.

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
from wayline.auth.limits.windows import Counters, CountersDown, Window, WindowState
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
    headers = request.headers
    if "json" not in headers.get("content-type", ""):
        return 0  # an upload (audio, images): its bytes are not prompt text
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
        """The request's answer has ended: settle now in memory, in the background in Redis."""
        if self.counters.local:
            await admission.close()
        else:
            self.spawn(admission.close())

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
        self.rpm = Window(f"rpm/{owner}", limits.rpm, RPM_SECONDS) if limits.rpm else None
        self.tpm = Window(f"tpm/{owner}", limits.tpm, TPM_SECONDS) if limits.tpm else None
        self.budget = (
            # The span is in the key: a new duration starts a new window.
            Window(f"budget/{owner}/{limits.budget_seconds}", limits.budget, limits.budget_seconds)
            if limits.budget
            else None
        )
        self.in_flight_key = f"parallel/{owner}"
        self.member = uuid.uuid4().hex if limits.parallel else ""
        self.taken: dict[str, int] = {}  # what each counter holds for this request
        self.used = 0  # tokens the request's calls reported
        self.counting = False  # admitted with its counters (not refused, not failed open)
        self.failed_open = False
        self.closed = False
        self._states: asyncio.Task[dict[str, WindowState]] | dict[str, WindowState] | None = None

    # --- admission ------------------------------------------------------------------------
    async def enter(self, estimate: int) -> None:
        wanted = self._wanted(estimate)  # in the order refusals are reported
        counters = self.gate.counters
        results: list[tuple[bool, WindowState | None]] = []
        if counters.local:  # one after the other, stopping at the first refusal
            for name, amount in wanted.items():
                results.append(await self._take(name, amount))
                if not results[-1][0]:
                    break
        else:  # all at once: one round trip's time
            steps = [self._take(name, amount) for name, amount in wanted.items()]
            for result in await asyncio.gather(*steps, return_exceptions=True):
                if isinstance(result, CountersDown):
                    self._fail_open()
                    return
                if isinstance(result, BaseException):
                    raise result
                results.append(result)
        states: dict[str, WindowState] = {}
        refused: str | None = None
        for (name, amount), (ok, state) in zip(wanted.items(), results, strict=False):
            if not ok:
                refused = refused or name
                continue
            self.taken[name] = amount
            if state is not None:
                states[name] = state
        if refused is not None:
            raise await self._refuse(refused, wanted[refused])
        self.counting = True
        # For the headers: in memory, the states the counting returned; in Redis, read while
        # the upstream answers.
        self._states = states if counters.local else asyncio.create_task(self._read_states())

    async def _take(self, name: str, amount: int) -> tuple[bool, WindowState | None]:
        counters = self.gate.counters
        if name == "parallel":
            return await counters.lease(self.in_flight_key, amount, self.member), None
        return await counters.acquire(self._window(name), amount)

    def _wanted(self, estimate: int) -> dict[str, int]:
        wanted: dict[str, int] = {}
        limits = self.limits
        if limits.budget:
            wanted["budget"] = max(1, min(estimate, limits.budget))
        if limits.rpm:
            wanted["rpm"] = 1
        if limits.tpm:
            wanted["tpm"] = max(1, min(estimate, limits.tpm))
        if limits.parallel:
            wanted["parallel"] = limits.parallel
        return wanted

    def _window(self, name: str) -> Window:
        window: Window | None = getattr(self, name)  # rpm, tpm or budget
        assert window is not None
        return window

    def _fail_open(self) -> None:
        self.failed_open = True
        RATELIMIT_FAIL_OPEN.inc()

    async def _refuse(self, kind: str, amount: int) -> LimitExceeded:
        RATELIMIT_REJECTIONS.labels(kind=kind).inc()
        taken, self.taken = self.taken, {}
        try:
            await self._give_back(taken)
            states = await self._read_states(kind if kind in ("rpm", "tpm", "budget") else None)
        except CountersDown:
            states = {}
        self._states = states
        state = states.get(kind)
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

    async def _give_back(self, taken: dict[str, int]) -> None:
        counters = self.gate.counters
        for name, amount in taken.items():
            if name == "parallel":
                await counters.unlease(self.in_flight_key, self.member)
            elif name != "rpm":  # a refused request still counts as a request
                await counters.add(self._window(name), -amount)

    async def _read_states(self, extra: str | None = None) -> dict[str, WindowState]:
        names = [n for n in ("rpm", "tpm") if getattr(self, n) is not None]
        if extra is not None and extra not in names:
            names.append(extra)
        counters = self.gate.counters
        reads = [counters.state(self._window(name)) for name in names]
        states = [await r for r in reads] if counters.local else await asyncio.gather(*reads)
        return dict(zip(names, states, strict=True))

    # --- the answer -----------------------------------------------------------------------
    async def headers(self) -> list[tuple[bytes, bytes]]:
        """OpenAI's `x-ratelimit-*` headers for the RPM and TPM windows."""
        if self.failed_open or (self.rpm is None and self.tpm is None):
            return []
        try:
            if isinstance(self._states, dict):
                states = self._states
            elif self._states is not None:  # Redis: read while the upstream answered
                states = await self._states
            else:
                states = await self._read_states()
        except CountersDown:
            return []
        out: list[tuple[bytes, bytes]] = []
        for name, unit in (("rpm", b"requests"), ("tpm", b"tokens")):
            state = states.get(name)
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
            late = {"tpm": tokens, "budget": tokens}
            self.gate.spawn(self._charge(late))

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        states = self._states
        if isinstance(states, asyncio.Task):  # a read for headers that may never be sent
            if not states.done():
                states.cancel()
            elif not states.cancelled():
                states.exception()  # retrieved, so a failed read is not reported as lost
        if not self.counting:
            return
        corrections: dict[str, int] = {
            name: self.used - self.taken[name] for name in ("tpm", "budget") if name in self.taken
        }
        try:
            if "parallel" in self.taken:
                await self.gate.counters.unlease(self.in_flight_key, self.member)
            await self._charge(corrections)
        except CountersDown:
            pass  # the lease runs out by itself; the counts stay as reserved

    async def _charge(self, amounts: dict[str, int]) -> None:
        counters = self.gate.counters
        for name, amount in amounts.items():
            window = getattr(self, name)
            if window is not None and amount:
                try:
                    await counters.add(window, amount)
                except CountersDown:
                    return
