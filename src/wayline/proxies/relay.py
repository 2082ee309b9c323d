"""Relaying an upstream answer to the client: JSON as is, streams chunk by chunk (never
buffered, through `core/streams.py`); a stream that fails once started ends with one error
record in its own format (an Ollama NDJSON line or an SSE `error` event).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi.responses import Response, StreamingResponse

from wayline.core import errors
from wayline.core.http import UpstreamClient
from wayline.core.streams import open_stream

log = logging.getLogger("wayline.proxies")

# Response headers worth passing on; hop-by-hop and length headers are the server's business.
_PASS_HEADERS = ("content-type", "retry-after", "x-request-id", "openai-processing-ms")


def _headers(upstream: Any) -> dict[str, str]:
    return {k: v for k, v in upstream.items() if k.lower() in _PASS_HEADERS}


async def relay(
    http: UpstreamClient,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    json: Any = None,
    data: bytes | None = None,
    params: Any = None,
    stream: bool = False,
) -> Response:
    if not stream:
        resp = await http.request(method, url, json=json, data=data, headers=headers, params=params)
        resp.raise_for_status()
        return Response(resp.body, status_code=resp.status, headers=_headers(resp.headers))

    opened = await open_stream(
        http, method, url, headers=headers, json=json, data=data, params=params
    )
    content_type = opened.headers.get("Content-Type", "application/octet-stream")

    def on_error(exc: BaseException, _tail: bytes) -> bytes:
        detail = errors.redact(getattr(exc, "detail", str(exc)))
        log.warning("stream from %s ended early: %s", errors.redact(url), detail)
        return _stream_error(content_type, detail)

    return StreamingResponse(
        opened.relay(on_error),
        status_code=opened.status,
        headers=_headers(opened.headers),
        media_type=content_type,
    )


def _stream_error(content_type: str, detail: Any) -> bytes:
    if "event-stream" in content_type:
        return b"data: " + orjson.dumps({"error": {"message": str(detail)}}) + b"\n\n"
    return orjson.dumps({"error": str(detail)}) + b"\n"


async def check_connection(http: UpstreamClient, url: str, key: str) -> Response:
    """An admin's connection check (`/ollama/verify`, `/openai/verify`): the upstream's answer,
    or 400 saying why the connection is unusable — a verdict about the admin's input, not a
    gateway failure, so never a 5xx."""
    shown = errors.redact(url)
    try:
        host = urlsplit(url).hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = None
    if not host:
        raise errors.BadRequest(f"Invalid connection URL '{shown}': it has no host")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        return await relay(http, "GET", url, headers=headers)
    except errors.UpstreamError as exc:
        raise errors.BadRequest(
            f"Connection check of {shown} failed ({exc.status_code}): {exc.detail}"
        ) from exc
