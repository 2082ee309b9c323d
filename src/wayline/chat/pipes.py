"""Dispatch to a function pipe: call it with Open WebUI's arguments, shape its result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from starlette.responses import Response

from wayline.chat.upstream import (
    DONE,
    _streaming,
    error_event,
    json_response,
    sources_event,
    with_sources,
)
from wayline.core.errors import UpstreamError, WaylineError
from wayline.functions.runtime import Chunker, call_pipe
from wayline.providers.entries import ModelEntry
from wayline.users.schemas import UserInfo


def _failure(entry: ModelEntry, exc: Exception) -> WaylineError:
    if isinstance(exc, WaylineError):
        return exc
    return UpstreamError(502, f"Function '{entry.function_id}' failed: {type(exc).__name__}: {exc}")


async def pipe_chat(
    request: Request,
    instance: Any,
    entry: ModelEntry,
    user: UserInfo,
    body: dict[str, Any],
    extras: dict[str, Any],
    stream: bool,
    sources: list[dict[str, Any]] | None,
) -> Response:
    body["model"] = (entry.base_id or entry.id) if entry.preset else entry.id
    metadata = {
        "user_id": user.id,
        "chat_id": None,
        "message_id": None,
        "session_id": None,
        "model": entry.public,
        "files": extras.get("files"),
        "features": extras.get("features") or {},
        "variables": extras.get("variables") or {},
        "params": extras.get("params") or {},
    }
    args = {
        "__user__": {"id": user.id, "email": user.email, "name": user.name, "role": user.role},
        "__metadata__": metadata,
        "__files__": extras.get("files") or [],
        "__request__": request,
        "__model__": entry.public,
        "__chat_id__": None,
        "__session_id__": None,
        "__message_id__": None,
        "__task__": None,
        "__task_body__": None,
        "__tools__": {},
        "__event_emitter__": None,
        "__event_call__": None,
        "__oauth_token__": None,
    }
    chunker = Chunker(entry.id)
    try:
        result = await call_pipe(instance, body, args)
    except Exception as exc:
        raise _failure(entry, exc) from exc
    if not stream:
        try:
            data = await chunker.collect(result)
        except Exception as exc:
            raise _failure(entry, exc) from exc
        return json_response(with_sources(data, sources))
    return _streaming(_relay(chunker, result, entry, sources))


async def _relay(
    chunker: Chunker, result: Any, entry: ModelEntry, sources: list[dict[str, Any]] | None
) -> AsyncIterator[bytes]:
    if sources is not None:
        yield sources_event(chunker.id, entry.id, sources)
    try:
        async for event in chunker.sse(result):
            yield event
    except Exception as exc:
        yield error_event(_failure(entry, exc)) + DONE
