"""The request metrics behind `GET /metrics`: every HTTP request counted and timed, and the time
a proxied request spent in Wayline rather than waiting for its upstream.

`RequestMetricsMiddleware` is pure ASGI and sits just inside `RequestIdMiddleware` (`app.Wayline`),
outside the body limits, CORS and the error handler, so what it times is all of Wayline's work,
and a 500 is counted as one. Per request it feeds
- `wayline_requests_total{route,status}` and `wayline_request_duration_seconds{route}`, from the
  request reaching the app to the last byte of its answer handed to the server. `route` is the
  matched route's path *template* (`/api/v1/files/{file_id}`); a request no route took (an
  unknown path, a trailing-slash redirect, a refusal at the edge before routing such as a 413) is
  `unmatched`, so the paths a scanner tries never become label values. A client that left before
  any answer is status 499 (nginx's "client closed request").
- `wayline_gateway_overhead_seconds`, for a request that waited for an upstream at least once:
  its duration minus the time it spent waiting for upstreams. `core.http` brackets every such
  wait with `UpstreamWaits.begin` / `end`: connecting, sending, the upstream's headers and its
  whole body for a plain call; the headers, then each chunk, for a stream. Waits that overlap
  (calls made at once) count once. What remains is Wayline's own work: auth, parsing, routing,
  resolving the model, building the upstream call, and for a stream, relaying each chunk (its
  parsing or translation, the write to the client) and closing.

Cost: two clock reads, one context variable and three metric updates per request (~6 µs; the
labelled series are looked up once per route and status, then kept).
"""

from __future__ import annotations

from contextvars import ContextVar
from time import perf_counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wayline.core.metrics import GATEWAY_OVERHEAD, REQUEST_DURATION, REQUESTS

UNMATCHED = "unmatched"
CLIENT_GONE = 499


class UpstreamWaits:
    """How long one request has waited for upstreams: the union of its wait intervals."""

    __slots__ = ("_open", "_since", "seconds", "waited")

    def __init__(self) -> None:
        self.waited = False
        self.seconds = 0.0
        self._open = 0
        self._since = 0.0

    def begin(self) -> None:
        self.waited = True
        if self._open == 0:
            self._since = perf_counter()
        self._open += 1

    def end(self) -> None:
        self._open -= 1
        if self._open == 0:
            self.seconds += perf_counter() - self._since

    def total(self, now: float) -> float:
        """The time waited until `now`, a wait still open included."""
        return self.seconds + (now - self._since if self._open else 0.0)


_waits: ContextVar[UpstreamWaits | None] = ContextVar("wayline_upstream_waits", default=None)


def upstream_waits() -> UpstreamWaits | None:
    """The current request's account of upstream waits; None outside a request (start-up,
    ingestion workers), where nothing is measured."""
    return _waits.get()


def route_label(scope: Scope) -> str:
    """The path template of the route that took the request, else `unmatched`."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # (route, status) -> its counter and the route's histogram, labelled once: `.labels()`
        # takes a lock and builds a key on every call.
        self._series: dict[tuple[str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        waits = UpstreamWaits()
        token = _waits.set(waits)
        status = CLIENT_GONE
        ended = waited = 0.0

        async def send_timed(message: Message) -> None:
            nonlocal status, ended, waited
            await send(message)
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # The answer is complete: background work after it is neither timed nor waited.
                ended = perf_counter()
                waited = waits.total(ended)

        try:
            await self.app(scope, receive, send_timed)
        finally:
            _waits.reset(token)
            if not ended:  # no complete answer: an error, or the client went away
                ended = perf_counter()
                waited = waits.total(ended)
            self._record(scope, status, ended - started, waited if waits.waited else None)

    def _record(self, scope: Scope, status: int, duration: float, waited: float | None) -> None:
        key = (route_label(scope), status)
        series = self._series.get(key)
        if series is None:
            route = key[0]
            series = (REQUESTS.labels(route, str(status)), REQUEST_DURATION.labels(route))
            self._series[key] = series
        series[0].inc()
        series[1].observe(duration)
        if waited is not None:  # a proxied request
            GATEWAY_OVERHEAD.observe(max(0.0, duration - waited))
