"""Request ids: one `X-Request-ID` per HTTP request, from the edge to the upstream and the logs.

`RequestIdMiddleware` is pure ASGI and sits outside everything else (`app.Wayline`), so every
answer carries the id: errors (a 500 included), streams, CORS preflights, 413s from the limits.
- The client's `X-Request-ID` is kept when well-formed (1–128 of `A-Z a-z 0-9 . _ : -`),
  otherwise one is generated: 32 hex digits laid out as a UUID4.
- It is echoed in the response's `X-Request-ID`. An `X-Request-ID` the answer already has (an
  upstream's, relayed by the proxies) moves to `X-Upstream-Request-ID`: ours names the request.
- While the request runs, the ASGI scope is in a context variable: `request_id()` for error
  bodies (`core.errors`) and upstream calls (`core.http`), `request_scope()` for the logs
  (`core.logs`: route template, user).
- With `access_log`, one `wayline.access` record per request once its answer has ended
  (status, duration_ms, method, client address); off by default (`core.logs` says when).

Cost: ~3 µs per request on two cores, less than `BodyLimitMiddleware`
(`tests/api/test_request_id.py::test_middleware_cost` prints it).
"""

from __future__ import annotations

import logging
import random
import re
import time
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
UPSTREAM_HEADER = b"x-upstream-request-id"
SCOPE_KEY = "wayline.request_id"
_VALID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")

_current: ContextVar[Scope | None] = ContextVar("wayline_request", default=None)
access_log = logging.getLogger("wayline.access")

# UUID4 layout: version nibble 4, variant bits 10.
_KEEP = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_SET = (0x4 << 76) | (0x2 << 62)
_bits = random.getrandbits


def new_request_id() -> str:
    """32 hex digits, a UUID4. From `random` (seeded from the OS, reseeded after a fork), not
    `uuid.uuid4()`: an id correlates log lines, it guards nothing, and uuid4 costs ~10× more."""
    return ((_bits(128) & _KEEP) | _SET).to_bytes(16).hex()


def request_id() -> str | None:
    """The current request's id; None outside a request (start-up, ingestion workers)."""
    scope = _current.get()
    return None if scope is None else scope.get(SCOPE_KEY)


def request_scope() -> Scope | None:
    """The current request's ASGI scope (after routing it holds `route` and `state`)."""
    return _current.get()


def route_of(scope: Scope) -> str:
    """The matched route's path template (`/api/v1/files/{id}`), else the path itself."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else str(scope.get("path", ""))


def user_of(scope: Scope) -> str | None:
    """The authenticated user's id: `auth.deps` keeps the principal in `request.state`."""
    state = scope.get("state")
    principal = state.get("principal") if isinstance(state, dict) else None
    user_id = getattr(getattr(principal, "user", None), "id", None)
    return user_id if isinstance(user_id, str) else None


def _client_id(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == HEADER:
            return value if _VALID.fullmatch(value) else None
    return None


def _with_id(headers: Any, rid: bytes) -> list[tuple[bytes, bytes]]:
    out = [(UPSTREAM_HEADER, v) if k == HEADER else (k, v) for k, v in headers]
    out.append((HEADER, rid))
    return out


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp, *, access_log: bool = False) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _client_id(scope["headers"])
        if rid is None:
            text = new_request_id()
            rid = text.encode()
        else:
            text = rid.decode()
        scope[SCOPE_KEY] = text
        token = _current.set(scope)
        if self.access_log:
            await self._logged(scope, receive, send, rid)
        else:

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = _with_id(message.get("headers", ()), rid)
                await send(message)

            await self.app(scope, receive, send_with_id)
        # Reset only on success: after an exception the server logs it in this same context,
        # and that line should name the request too.
        _current.reset(token)

    async def _logged(self, scope: Scope, receive: Receive, send: Send, rid: bytes) -> None:
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _with_id(message.get("headers", ()), rid)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = round((time.perf_counter() - started) * 1000, 3)
            access_log.info(
                "%s %s %d %.1fms",
                scope["method"],
                route_of(scope),
                status or 500,
                duration,
                extra={
                    "status": status or 500,
                    "duration_ms": duration,
                    "method": scope["method"],
                    "client": (scope.get("client") or ("",))[0],
                },
            )
