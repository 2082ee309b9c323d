"""Dispatch a prepared chat request to its dialect and shape the HTTP response.

Streams are relayed as they arrive (OpenAI SSE bytes untouched; Ollama NDJSON
translated line by line). The upstream request is opened before the response starts,
so an upstream error status becomes our status; after that, a failure becomes one
`data: {"error": ...}` event and `data: [DONE]`. Leaving the generator early (the
client went away) closes the upstream connection, which cancels the upstream's work.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

from wayline.core.errors import UpstreamError, WaylineError, openai_error, redact
from wayline.core.http import UpstreamClient, UpstreamStream
from wayline.providers import ollama
from wayline.providers.entries import ModelEntry

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
DONE = b"data: [DONE]\n\n"
_ID = re.compile(rb'"id"\s*:\s*"([^"]+)"')


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def sse_event(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def sources_event(chat_id: str | None, model: str, sources: list[dict[str, Any]]) -> bytes:
    """The sources, as a valid (empty-choices) `chat.completion.chunk` so strict clients accept it."""
    return sse_event(
        {
            "id": chat_id or ollama.new_chat_id(),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [],
            "sources": sources,
        }
    )


def error_event(exc: BaseException) -> bytes:
    """A failure after the stream started, as OpenAI streams one (the SDKs raise `APIError`
    with its `code`/`type`), plus Open WebUI's `detail`."""
    if isinstance(exc, WaylineError):
        status, detail = exc.status_code, redact(exc.detail)
        error = openai_error(
            status,
            detail,
            code=exc.code,
            param=exc.param,
            error_type=getattr(exc, "error_type", None),
        )
    else:
        error = openai_error(502, redact(f"{type(exc).__name__}: {exc}"))
    return sse_event({"error": {**error, "detail": error["message"]}})


def with_sources(data: Any, sources: list[dict[str, Any]] | None) -> Any:
    return {"sources": sources, **data} if sources is not None and isinstance(data, dict) else data


async def _open(
    http: UpstreamClient, url: str, *, data: bytes, headers: dict[str, str]
) -> tuple[UpstreamStream, AsyncExitStack]:
    stack = AsyncExitStack()
    try:
        upstream = await stack.enter_async_context(
            http.stream("POST", url, data=data, headers=headers)
        )
        await upstream.raise_for_status()
    except BaseException:
        await stack.aclose()
        raise
    return upstream, stack


def _streaming(gen: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(gen, media_type="text/event-stream", headers=SSE_HEADERS)


# --- OpenAI-compatible -----------------------------------------------------------------


async def openai_chat(
    http: UpstreamClient,
    entry: ModelEntry,
    data: bytes,
    stream: bool,
    sources: list[dict[str, Any]] | None,
) -> Response:
    conn = entry.connection
    assert conn is not None
    url = f"{conn.url}/chat/completions"
    if not stream:
        resp = (await http.request("POST", url, data=data, headers=conn.headers)).raise_for_status()
        if sources is None:
            return Response(resp.body, status_code=resp.status, media_type="application/json")
        return json_response(with_sources(resp.json(), sources), resp.status)
    upstream, stack = await _open(http, url, data=data, headers=conn.headers)
    if "text/event-stream" not in upstream.headers.get("Content-Type", "text/event-stream"):
        # Some servers answer a stream request with plain JSON: pass that on as JSON.
        try:
            body = await upstream.read()
        finally:
            await stack.aclose()
        return Response(
            body, status_code=upstream.status, media_type=upstream.headers.get("Content-Type")
        )
    return _streaming(_relay_sse(upstream, stack, entry.id, sources))


async def _relay_sse(
    upstream: UpstreamStream,
    stack: AsyncExitStack,
    model: str,
    sources: list[dict[str, Any]] | None,
) -> AsyncIterator[bytes]:
    tail = b"\n\n"
    try:
        pending_sources = sources is not None
        async for chunk in upstream.iter_chunks():
            if pending_sources:
                found = _ID.search(chunk)
                yield sources_event(
                    found.group(1).decode() if found else None, model, sources or []
                )
                pending_sources = False
            yield chunk
            tail = chunk[-2:]
        if pending_sources:
            yield sources_event(None, model, sources or [])
    except (WaylineError, ValueError) as exc:
        yield (b"" if tail == b"\n\n" else b"\n\n") + error_event(exc) + DONE
    finally:
        await stack.aclose()


# --- Ollama -----------------------------------------------------------------------------


async def ollama_chat(
    http: UpstreamClient,
    entry: ModelEntry,
    body: dict[str, Any],
    stream: bool,
    sources: list[dict[str, Any]] | None,
) -> Response:
    conn = entry.pick()
    assert conn is not None
    payload = orjson.dumps(ollama.to_ollama_chat(body, entry.upstream_id))
    url = f"{conn.url}/api/chat"
    if not stream:
        resp = (
            await http.request("POST", url, data=payload, headers=conn.headers)
        ).raise_for_status()
        return json_response(with_sources(ollama.from_ollama_chat(resp.json(), entry.id), sources))
    upstream, stack = await _open(http, url, data=payload, headers=conn.headers)
    return _streaming(_relay_ndjson(upstream, stack, entry.id, sources))


async def _relay_ndjson(
    upstream: UpstreamStream,
    stack: AsyncExitStack,
    model: str,
    sources: list[dict[str, Any]] | None,
) -> AsyncIterator[bytes]:
    translator = ollama.StreamTranslator(model)
    try:
        if sources is not None:
            yield sources_event(translator.id, model, sources)
        done = False
        async for line in upstream.iter_lines():
            if not line.strip():
                continue
            data = orjson.loads(line)
            for chunk in translator.translate(data):
                yield sse_event(chunk)
            done = done or bool(data.get("done"))
        if not done:
            raise UpstreamError(502, "Ollama closed the stream before it was done")
        yield DONE
    except (WaylineError, ValueError) as exc:  # orjson.JSONDecodeError is a ValueError
        yield error_event(exc) + DONE
    finally:
        await stack.aclose()
