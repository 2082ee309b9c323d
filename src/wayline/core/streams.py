"""Relaying an upstream stream to the client: the one place that opens, relays and closes one.

The upstream request is opened, and its status checked, before the response starts, so an
upstream error is answered with its own status; with `prime` (chat), its first bytes are awaited
too, so a stream that fails before sending anything is still an error status, which a caller can
retry elsewhere (providers/routing.py). Once bytes flow, a failure can only end the
stream with one error record in the stream's own format (the caller says which), because
the status line is already sent. Leaving early (the client went away) closes the upstream
response, which cancels the upstream's work.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

from wayline.core.errors import UpstreamUnavailable, WaylineError, openai_error, redact
from wayline.core.http import UpstreamClient, UpstreamStream

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
DONE = b"data: [DONE]\n\n"

# Failures a stream can meet once it started: ours (transport, upstream) and bad JSON lines.
STREAM_FAILURES = (WaylineError, ValueError)


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def sse_event(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def sse_error_event(exc: BaseException) -> bytes:
    """A failure after an SSE stream started, as OpenAI streams one (the SDKs raise `APIError`
    with its `code`/`type`), plus Open WebUI's `detail`."""
    if isinstance(exc, WaylineError):
        error = openai_error(
            exc.status_code,
            redact(exc.detail),
            code=exc.code,
            param=exc.param,
            error_type=getattr(exc, "error_type", None),
        )
    else:
        error = openai_error(502, redact(f"{type(exc).__name__}: {exc}"))
    return sse_event({"error": {**error, "detail": error["message"]}})


def event_stream(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream", headers=SSE_HEADERS)


class OpenStream:
    """An upstream stream whose status was checked; `relay` (or `close`) releases it."""

    def __init__(self, upstream: UpstreamStream, stack: AsyncExitStack) -> None:
        self.upstream = upstream
        self.status = upstream.status
        self.headers = upstream.headers
        self._stack = stack
        # With `prime`: the body's first bytes, and the chunk iterator they came from.
        self._head = b""
        self._chunks: AsyncIterator[bytes] | None = None

    async def close(self) -> None:
        await self._stack.aclose()

    async def prime(self) -> None:
        """Wait for the body's first bytes (kept for `relay`, `lines` and `read`). A stream that
        fails before sending anything then fails here, while nothing has reached the client:
        the caller can still answer with the error's status, or try another upstream."""
        chunks = self.upstream.iter_chunks()
        try:
            self._head = await anext(chunks)
        except StopAsyncIteration:
            raise UpstreamUnavailable(
                "The upstream ended the stream without sending anything"
            ) from None
        self._chunks = chunks

    async def read(self) -> bytes:
        """The whole body (for an upstream that answered a stream request with plain JSON)."""
        try:
            return self._head + await self.upstream.read()
        finally:
            await self.close()

    async def relay(
        self,
        on_error: Callable[[BaseException, bytes], bytes],
        before: Callable[[bytes], bytes] | None = None,
    ) -> AsyncIterator[bytes]:
        """The upstream's bytes as they arrive. `before(first_chunk)` is sent ahead of the
        first chunk (with `b""` if none came); on a failure, `on_error(exc, last_two_bytes)`
        is the stream's last record."""
        tail = b"\n\n"
        chunks = self._chunks or self.upstream.iter_chunks()
        try:
            pending = before
            if self._head:
                if pending is not None:
                    yield pending(self._head)
                    pending = None
                yield self._head
                tail = self._head[-2:]
            async for chunk in chunks:
                if pending is not None:
                    yield pending(chunk)
                    pending = None
                yield chunk
                tail = chunk[-2:]
            if pending is not None:
                yield pending(b"")
        except STREAM_FAILURES as exc:
            yield on_error(exc, tail)
        finally:
            await self.close()

    async def lines(self) -> AsyncIterator[bytes]:
        """The upstream's lines (without line endings), for dialects that translate them;
        the caller turns a failure into its record and must `close` at the end."""
        rest = b""
        if self._chunks is not None:  # primed: the first bytes are lines, then part of one
            if isinstance(self._chunks, AsyncGenerator):  # the response reads on: the lines
                await self._chunks.aclose()  # continue from it
            *complete, rest = self._head.split(b"\n")
            for line in complete:
                yield line.rstrip(b"\r")
        async for line in self.upstream.iter_lines():
            if rest:
                line, rest = rest + line, b""
            yield line
        if rest:
            yield rest.rstrip(b"\r")


async def open_stream(
    http: UpstreamClient,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    json: Any = None,
    data: bytes | None = None,
    params: Any = None,
    prime: bool = False,
) -> OpenStream:
    """The upstream's stream, its status checked; with `prime`, its first bytes arrived too
    (`OpenStream.prime`), so that a failure before them is raised here."""
    stack = AsyncExitStack()
    try:
        upstream = await stack.enter_async_context(
            http.stream(method, url, json=json, data=data, headers=headers, params=params)
        )
        await upstream.raise_for_status()
        opened = OpenStream(upstream, stack)
        if prime:
            await opened.prime()
    except BaseException:
        await stack.aclose()
        raise
    return opened
