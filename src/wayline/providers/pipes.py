"""Function pipes as a provider: in-process Python models (Open WebUI's "function models").

Listed from the active pipe functions at each model-list rebuild (a manifold's `pipes()` adds
one model per sub-pipe), called with Open WebUI's arguments; the loaded instance is cached
until its function changes (`FUNCTIONS_CHANGED`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

from starlette.responses import Response

from wayline.core import errors
from wayline.core.errors import UpstreamError, WaylineError
from wayline.core.settings import Settings
from wayline.core.state import Core
from wayline.core.streams import DONE, event_stream, json_response, sse_error_event
from wayline.functions.repository import FunctionRepository
from wayline.functions.runtime import Chunker, FunctionRuntime, call_pipe
from wayline.functions.service import FUNCTIONS_CHANGED, user_valves_arg
from wayline.providers.base import (
    OPENAI_PARAMS,
    ChatCall,
    Health,
    probe_by_listing,
    sources_event,
    with_sources,
)
from wayline.providers.connections import Connection
from wayline.providers.entries import ModelEntry, pipe_entry

log = logging.getLogger("wayline.providers")


class PipeProvider:
    kind: ClassVar[str] = "pipe"
    # A pipe gets an OpenAI-shaped body: preset params reach it as they reach OpenAI's.
    preset_params: ClassVar[tuple[str, ...]] = OPENAI_PARAMS
    uses_connections: ClassVar[bool] = False

    def __init__(self, core: Core) -> None:
        self._db = core.db
        self.runtime = FunctionRuntime()
        self._broken: dict[str, int] = {}  # function id -> the version that failed to list
        core.bus.subscribe(FUNCTIONS_CHANGED, self._on_changed)

    def _on_changed(self, message: dict[str, Any]) -> None:
        if message.get("function_id"):
            self.runtime.forget(message["function_id"])

    def connections(self, settings: Settings) -> list[Connection]:
        return []

    async def list_models(self, conn: Connection | None, timeout: float) -> list[ModelEntry]:
        async with self._db.sessionmaker() as session:
            functions = await FunctionRepository(session).active_pipes()
        out: list[ModelEntry] = []
        for fn in functions:
            try:
                loaded = self.runtime.instance(fn.id, fn.content, fn.valves, fn.updated_at)
                subs = await self.runtime.pipe_models(loaded.instance)
            except Exception as exc:
                if self._broken.get(fn.id) != fn.updated_at:  # once per version, not per rebuild
                    self._broken[fn.id] = fn.updated_at
                    detail = getattr(exc, "detail", exc)
                    log.warning("function %s could not list its pipes: %s", fn.id, detail)
                continue
            if subs is None:
                out.append(pipe_entry(fn.id, fn.name, fn.id, fn.created_at))
                continue
            prefix = getattr(loaded.instance, "name", "")
            out.extend(
                pipe_entry(f"{fn.id}.{sub['id']}", f"{prefix}{sub['name']}", fn.id, fn.created_at)
                for sub in subs
            )
        return out

    def merge(self, first: ModelEntry, other: ModelEntry, turns: Iterator[int]) -> None:
        return None  # the first connection to list a name wins it (Open WebUI's rule)

    async def probe(self, conn: Connection | None, timeout: float) -> Health:
        return await probe_by_listing(self, conn, timeout)

    async def embeddings(self, entry: ModelEntry, body: dict[str, Any]) -> Response:
        raise errors.BadRequest(f"Model '{entry.id}' does not support embeddings")

    async def _instance(self, function_id: str) -> Any:
        loaded = self.runtime.cached(function_id)
        if loaded is not None:
            return loaded.instance
        async with self._db.sessionmaker() as session:
            row = await FunctionRepository(session).get(function_id)
        if row is None or not row.is_active:
            raise errors.NotFound(errors.model_not_found(function_id))
        return self.runtime.instance(row.id, row.content, row.valves, row.updated_at).instance

    async def chat(self, call: ChatCall) -> Response:
        entry, body, user, extras = call.entry, call.body, call.user, call.extras
        instance = await self._instance(entry.function_id)
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
        caller: dict[str, Any] = {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "role": user.role,
        }
        valves = await user_valves_arg(self._db, instance, entry.function_id, user.id)
        if valves is not None:  # only for a pipe with `UserValves`, as Open WebUI
            caller["valves"] = valves
        args = {
            "__user__": caller,
            "__metadata__": metadata,
            "__files__": extras.get("files") or [],
            "__request__": call.request,
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
        if not call.stream:
            try:
                data = await chunker.collect(result)
            except Exception as exc:
                raise _failure(entry, exc) from exc
            return json_response(with_sources(data, call.sources))
        return event_stream(_relay(chunker, result, entry, call.sources))


def _failure(entry: ModelEntry, exc: Exception) -> WaylineError:
    if isinstance(exc, WaylineError):
        return exc
    return UpstreamError(502, f"Function '{entry.function_id}' failed: {type(exc).__name__}: {exc}")


async def _relay(
    chunker: Chunker, result: Any, entry: ModelEntry, sources: list[dict[str, Any]] | None
) -> AsyncIterator[bytes]:
    if sources is not None:
        yield sources_event(chunker.id, entry.id, sources)
    try:
        async for event in chunker.sse(result):
            yield event
    except Exception as exc:
        yield sse_error_event(_failure(entry, exc)) + DONE
