"""Limits on what a request may carry: body size and JSON nesting, checked at the edge.

`BodyLimitMiddleware` is pure ASGI, so the check costs one header lookup on small bodies:
- a `Content-Length` above the route's cap answers 413 before any byte is read; a body
  without one (chunked) is counted as it streams and cut off at the cap with 413;
- a JSON body nested deeper than `MAX_JSON_DEPTH` answers 422 naming the field. orjson
  refuses to write more than 254 levels, so such a body could be stored but never read
  back: every list that included the row would answer 500.

Uploads (multipart) are not buffered here; their size is the files domain's
`RAG_FILE_MAX_SIZE`, enforced while the upload streams to the blob store.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from wayline.core.errors import Unprocessable, error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Bodies that legitimately carry more than the default cap: chat messages with inline images,
# images to edit, and files sent back with their text for indexing.
LARGE_BODY_PATHS = (
    "/api/chat/completions",
    "/api/v1/chat/completions",
    "/api/embeddings",
    "/api/v1/embeddings",
    "/openai/",
    "/ollama/",
    "/api/v1/images/edit",
    "/images/api/v1/edit",
    "/api/v1/retrieval/process/files/batch",
)
# A sync client's whole tree (`/api/v1/knowledge/{id}/sync/diff`: ~150 bytes a file, so the
# default cap would stop at ~7,000 files) and the ids it then removes.
LARGE_BODY_SUFFIXES = ("/sync/diff", "/sync/cleanup")


def takes_large_body(path: str) -> bool:
    return path.startswith(LARGE_BODY_PATHS) or (
        path.startswith("/api/v1/knowledge/") and path.endswith(LARGE_BODY_SUFFIXES)
    )


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# `\u0000` not preceded by an escaped backslash: a NUL inside a JSON string.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
NUL_DETAIL = "NUL characters (U+0000) are not accepted in requests"


def json_too_deep(body: bytes, limit: int) -> bool:
    """Whether `body` (JSON text) nests deeper than `limit`, without parsing it."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for byte in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        depth += 1 if byte in (0x5B, 0x7B) else -1
        if depth > limit:
            return True
    return False


def deep_path(value: Any, limit: int) -> list[str | int] | None:
    """The path to the first place where `value` nests deeper than `limit`, or None."""
    stack: list[tuple[Any, int, list[str | int]]] = [(value, 1, [])]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return path
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((child, depth + 1, [*path, key]) for key, child in items)
    return None


def check_depth(value: Any, limit: int, field: str) -> None:
    """Raise 422 naming `field` when an already-parsed JSON value nests deeper than `limit`."""
    path = deep_path(value, limit)
    if path is not None:
        raise Unprocessable(depth_detail([field, *path[:3]], limit))


def depth_detail(loc: list[str | int], limit: int) -> list[dict[str, Any]]:
    return [{"type": "json_too_deep", "loc": loc, "msg": f"JSON nested deeper than {limit} levels"}]


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body: int, max_large_body: int, max_depth: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_large_body = max_large_body
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # PostgreSQL cannot store U+0000 in text, and no identifier or name needs one: refuse
        # it at the edge rather than let it reach a query (a 500 there).
        if scope["type"] == "http" and ("\x00" in scope["path"] or b"%00" in scope["query_string"]):
            await _reject(scope, receive, send, 400, NUL_DETAIL)
            return
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type.startswith(b"multipart/"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        cap = self.max_large_body if takes_large_body(path) else self.max_body
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > cap:
            await _reject(scope, receive, send, 413, f"Request body larger than {cap} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await _reject(scope, receive, send, 413, f"Request body larger than {cap} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if content_type.endswith(b"json"):
            if json_too_deep(body, self.max_depth):
                await _reject(
                    scope,
                    receive,
                    send,
                    422,
                    depth_detail(_body_loc(body, self.max_depth), self.max_depth),
                )
                return
            if b"\\u0000" in body and _JSON_NUL.search(body):
                await _reject(scope, receive, send, 422, NUL_DETAIL)
                return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _body_loc(body: bytes, limit: int) -> list[str | int]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:  # deeper than orjson's own limit: name the body itself
        return ["body"]
    return ["body", *(deep_path(value, limit) or [])[:3]]


async def _reject(scope: Scope, receive: Receive, send: Send, status: int, detail: Any) -> None:
    response = error_response(scope["path"], status, detail, headers={"connection": "close"})
    await response(scope, receive, send)
