"""Routing a call over a model's deployments: choice, retries before the first byte, cooldowns,
fallbacks. The chat service sends every chat completion and embedding call through `Router`.

- Deployments. Connections of one kind that list the same model id are one model (the
  registry merges them: `ModelEntry.connection` plus `alternates`); each connection serving it
  is a deployment (deployments.py). `MODEL_ROUTING_STRATEGY` chooses among the healthy ones:
  `simple-shuffle` at random in proportion to each connection's `weight` (default 1), or
  `least-busy`, the fewest requests in flight in this process (ties at random).
- Retries, only while nothing has reached the client: on connect errors, time-outs, 408, 429
  and 5xx, each to another healthy deployment not tried yet, at most `UPSTREAM_MAX_RETRIES`,
  and none started after `UPSTREAM_RETRY_DEADLINE` seconds from the request. An upstream's
  `Retry-After` of at most 10 s is honoured: when no other deployment is left, the same one is
  asked again once that time has passed (within the deadline). Never on 400/401/403/404/422:
  the client's request, or the deployment's key, is at fault, and another try would not help.
  A stream is retried only if it failed before its first byte (providers open streams with
  `prime`, so such a failure is raised before the response starts).
- Cooldowns. A deployment that failed more than half of at least 3 requests in the last minute,
  or answered 401/403/404 for the model, is left out for `UPSTREAM_COOLDOWN_SECONDS` (shared
  with every process through the `CooldownBoard`). When every deployment of the model is
  cooling down, the one whose cooldown started first (the least recently failed) is tried
  rather than none; a deployment that answers ends its own cooldown.
- Fallbacks. Once a chat's deployments are exhausted on a retryable error, the model's
  fallbacks (a workspace model's `params.fallbacks`, else `MODEL_FALLBACKS[model]`) are tried in
  order, each through its own deployments, skipping any the caller may not use. Their own
  fallbacks are not followed. Embeddings have none: another model's vectors would not compare.

The cost when nothing fails, measured by `bench/routing_overhead.py`: choosing (a dict lookup per
deployment), a few clock reads and one histogram observation; nothing per streamed chunk.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from wayline.core.errors import UpstreamError, WaylineError, redact
from wayline.core.metrics import UPSTREAM_COOLDOWNS
from wayline.core.settings import Settings
from wayline.providers.base import ChatCall
from wayline.providers.connections import Connection
from wayline.providers.cooldowns import CooldownBoard, CooldownReason
from wayline.providers.deployments import Deployment, Deployments
from wayline.providers.entries import ModelEntry
from wayline.providers.registry import ModelRegistry

log = logging.getLogger("wayline.providers")

RETRY_AFTER_MAX = 10.0
FAILING_MIN_REQUESTS = 3
FAILING_RATE = 0.5
REFUSED = frozenset({401, 403, 404})  # the deployment will not serve the model: out at once

Call = Callable[[ModelEntry], Awaitable[Response]]


def retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


def retry_after(exc: UpstreamError) -> float | None:
    """The upstream's `Retry-After` in seconds (a number or an HTTP date), if it sent one."""
    value = (exc.headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def upstream_id_on(entry: ModelEntry, conn: Connection) -> str:
    """The model's id on one of its deployments' connections (a preset names its base model)."""
    if conn is entry.connection:
        return entry.upstream_id
    return conn.upstream_id(entry.base_id or entry.id)


def aimed(entry: ModelEntry, conn: Connection) -> ModelEntry:
    """`entry` pointed at one of its deployments' connections only."""
    if conn is entry.connection:
        return replace(entry, alternates=()) if entry.alternates else entry
    upstream_id = upstream_id_on(entry, conn)
    return replace(entry, connection=conn, upstream_id=upstream_id, alternates=())


class CountedStream(StreamingResponse):
    """A provider's stream, unchanged, whose end counts the request out of its deployment's
    `in_flight`: however the response ends (done, failed, the client gone), or, dropped unsent,
    when it is collected. One check per response, nothing per chunk."""

    _deployment: Deployment
    _started: float
    _open: bool

    @classmethod
    def of(
        cls, response: StreamingResponse, deployment: Deployment, started: float
    ) -> CountedStream:
        counted = cls.__new__(cls)
        counted.__dict__.update(response.__dict__)  # the same response, this class's end
        counted._deployment, counted._started, counted._open = deployment, started, True
        return counted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._finish(relayed=True)

    def _finish(self, relayed: bool) -> None:
        if self._open:
            self._open = False
            self._deployment.in_flight -= 1
            if relayed:
                self._deployment.succeeded(time.perf_counter() - self._started)

    def __del__(self) -> None:
        self._finish(relayed=False)  # never sent: nothing to time


class Router:
    def __init__(
        self,
        settings: Settings,
        registry: ModelRegistry,
        deployments: Deployments,
        board: CooldownBoard,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self.deployments = deployments
        self.board = board
        self._least_busy = settings.MODEL_ROUTING_STRATEGY == "least-busy"
        self._attempts = 1 + settings.UPSTREAM_MAX_RETRIES

    # --- entry points ----------------------------------------------------------------------
    async def chat(self, call: ChatCall) -> Response:
        deadline = time.monotonic() + self._settings.UPSTREAM_RETRY_DEADLINE
        entry = call.entry
        sent_model = call.body.get("model")
        provider = self._registry.providers.of(entry.kind)

        def run(target: ModelEntry) -> Awaitable[Response]:
            # The call is this request's own: each attempt points it at its deployment. The
            # client's bytes go as they came only while no attempt changed the body's model (the
            # provider compares that one with the deployment's id).
            if call.body.get("model") != sent_model:
                call.raw = None
            call.entry = target
            return provider.chat(call)

        try:
            return await self._route(entry, run, deadline)
        except UpstreamError as exc:
            if not retryable(exc.status_code):
                raise
            answer = await self._fallback(call, entry, deadline)
            if answer is None:
                raise
            return answer

    async def call(self, entry: ModelEntry, run: Call) -> Response:
        """Any request for `entry` on its deployments (the Ollama and OpenAI pass-throughs' own
        wire format): `run` sends it to the deployment it is given, with the same choice,
        retries and cooldowns as a chat completion (no fallbacks: their dialect is fixed)."""
        deadline = time.monotonic() + self._settings.UPSTREAM_RETRY_DEADLINE
        return await self._route(entry, run, deadline)

    async def embeddings(self, entry: ModelEntry, body: dict[str, Any]) -> Response:
        provider = self._registry.providers.of(entry.kind)
        deadline = time.monotonic() + self._settings.UPSTREAM_RETRY_DEADLINE
        return await self._route(entry, lambda target: provider.embeddings(target, body), deadline)

    # --- one model's deployments -------------------------------------------------------------
    def pool(self, entry: ModelEntry) -> list[Deployment]:
        assert entry.connection is not None
        model = entry.base_id or entry.id
        return [self.deployments.of(conn, model) for conn in (entry.connection, *entry.alternates)]

    async def _route(self, entry: ModelEntry, run: Call, deadline: float) -> Response:
        if entry.connection is None:  # an in-process model (a pipe): nothing to choose
            return await run(entry)
        pool = self.pool(entry)
        tried: list[Deployment] = []
        last: UpstreamError | None = None
        for _ in range(self._attempts):
            chosen, wait = self._next(pool, tried, last)
            if chosen is None or (tried and time.monotonic() + wait > deadline):
                break
            if wait:
                await asyncio.sleep(wait)
            tried.append(chosen)
            try:
                return await self._attempt(chosen, entry, run)
            except UpstreamError as exc:
                if not retryable(exc.status_code):
                    raise
                last = exc
                log.info("%s failed (%s), retrying elsewhere if possible", chosen.key, exc.detail)
        assert last is not None  # the first turn always has a deployment to try
        raise last

    def _next(
        self, pool: list[Deployment], tried: list[Deployment], last: UpstreamError | None
    ) -> tuple[Deployment | None, float]:
        """The deployment to try next, and how long to wait before."""
        now = time.time()
        healthy = [d for d in pool if d not in tried and not self.board.cooling(d.key, now)]
        if healthy:
            return self._choose(healthy), 0.0
        if not tried:  # every one is cooling down: the least recently failed, not none
            return min(pool, key=lambda d: (self.board.until(d.key), d.last_failure)), 0.0
        # Nothing else left: the last one asked again if it said when (and only once).
        wait = retry_after(last) if last is not None else None
        if wait is not None and wait <= RETRY_AFTER_MAX and tried.count(tried[-1]) == 1:
            return tried[-1], wait
        return None, 0.0

    def _choose(self, healthy: list[Deployment]) -> Deployment:
        if len(healthy) == 1:
            return healthy[0]
        if self._least_busy:
            fewest = min(d.in_flight for d in healthy)
            return random.choice([d for d in healthy if d.in_flight == fewest])
        weights = [d.connection.weight for d in healthy]
        if not any(weights):
            return random.choice(healthy)
        return random.choices(healthy, weights)[0]

    async def _attempt(self, deployment: Deployment, entry: ModelEntry, run: Call) -> Response:
        target = deployment.aimed(entry, aimed)
        last_resort = self.board.cooling(deployment.key, time.time())
        deployment.in_flight += 1
        started = time.perf_counter()
        try:
            response = await run(target)
        except UpstreamError as exc:
            deployment.in_flight -= 1
            self._failed(deployment, exc)
            raise
        except BaseException:
            deployment.in_flight -= 1
            raise
        if last_resort:  # chosen while cooling down (every one was), and it answered
            self.board.end(deployment.key)
        if isinstance(response, StreamingResponse):
            response = CountedStream.of(response, deployment, started)
        else:
            deployment.in_flight -= 1
            deployment.succeeded(time.perf_counter() - started)
        return response

    # --- health from traffic -----------------------------------------------------------------
    def _failed(self, deployment: Deployment, exc: UpstreamError) -> None:
        status = exc.status_code
        error = f"HTTP {status}: {redact(str(exc.detail))[:300]}"
        if status in REFUSED:
            deployment.last_error = error
            self._cool(deployment, "refused")
        elif retryable(status):
            deployment.failed(error)
            window = deployment.window()
            if (
                window.requests >= FAILING_MIN_REQUESTS
                and window.failures > FAILING_RATE * window.requests
            ):
                self._cool(deployment, "failures")
        else:  # the request was at fault (400, 422, ...): the deployment answered
            deployment.answered()

    def _cool(self, deployment: Deployment, reason: CooldownReason) -> None:
        seconds = self._settings.UPSTREAM_COOLDOWN_SECONDS
        if not seconds or self.board.cooling(deployment.key, time.time()):
            return
        self.board.start(deployment.key, seconds, reason)
        UPSTREAM_COOLDOWNS.labels(deployment.connection.name).inc()
        log.warning(
            "%s cooling down for %g s (%s; %s)",
            deployment.key,
            seconds,
            reason,
            deployment.last_error,
        )

    # --- fallbacks -----------------------------------------------------------------------------
    def fallbacks_of(self, entry: ModelEntry) -> list[str]:
        own = entry.params.get("fallbacks")
        if isinstance(own, list) and all(isinstance(m, str) for m in own):
            return own
        return self._settings.model_fallbacks.get(entry.id, [])

    async def _fallback(
        self, call: ChatCall, failed: ModelEntry, deadline: float
    ) -> Response | None:
        for model_id in self.fallbacks_of(failed):
            if time.monotonic() >= deadline:
                return None
            try:  # the caller's own access rules: a model they may not use is skipped
                entry = await self._registry.resolve(model_id, call.user)
            except WaylineError:
                log.info("fallback %r of %s skipped: not usable here", model_id, failed.id)
                continue
            if entry.id == failed.id:
                continue
            try:
                return await self._route(entry, self._chat_as(call, entry), deadline)
            except WaylineError as exc:  # the next fallback, whatever this one's reason
                log.info("fallback %s of %s failed: %s", entry.id, failed.id, exc.detail)
        return None

    def _chat_as(self, call: ChatCall, entry: ModelEntry) -> Call:
        """The call made to another model (a fallback): the body is sent re-encoded."""
        provider = self._registry.providers.of(entry.kind)
        return lambda target: provider.chat(replace(call, entry=target, raw=None))
