"""The chat pipeline: parse → resolve model → preset params → RAG seam → dialect dispatch.

The body is parsed with orjson and never validated as a whole (unknown fields pass
through to OpenAI-type upstreams). When nothing had to change — no Wayline fields,
no prefix, no preset — the client's bytes are forwarded as they came.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from sqlalchemy import select
from starlette.responses import Response

from wayline.chat import upstream
from wayline.chat.params import WAYLINE_FIELDS, apply_params
from wayline.chat.pipes import pipe_chat
from wayline.core import errors
from wayline.core.state import Core
from wayline.functions.tables import FunctionRow
from wayline.providers.entries import ModelEntry
from wayline.providers.registry import ModelRegistry
from wayline.users.schemas import UserInfo


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.BadRequest(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise errors.BadRequest("The request body must be a JSON object")
    return body


class ChatService:
    def __init__(self, core: Core, registry: ModelRegistry) -> None:
        self._core = core
        self._http = core.http
        self.registry = registry

    async def complete(self, request: Request, user: UserInfo, raw: bytes) -> Response:
        body = parse_body(raw)
        entry = await self.registry.resolve(body.get("model"), user)
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise errors.BadRequest(
                "'messages' must be a list of message objects", param="messages"
            )

        extras = {key: body.pop(key) for key in WAYLINE_FIELDS if key in body}
        changed = bool(extras)
        request_params = extras.get("params")
        if request_params is not None and not isinstance(request_params, dict):
            raise errors.BadRequest("'params' must be an object", param="params")
        params = {**entry.params, **(request_params or {})}
        if params:
            apply_params(body, params, entry.kind)
            changed = True
        files = extras.get("files")
        sources = None
        augmenter = getattr(request.app.state, "chat_augmenter", None)
        if files and augmenter is not None:
            if not isinstance(files, list):
                raise errors.BadRequest("'files' must be a list", param="files")
            sources = await augmenter.augment(user, body, files)
            changed = True
        stream = bool(body.get("stream"))

        if entry.kind == "pipe":
            instance = await self._pipe_instance(entry.function_id)
            return await pipe_chat(request, instance, entry, user, body, extras, stream, sources)
        if entry.kind == "ollama":
            return await upstream.ollama_chat(self._http, entry, body, stream, sources)
        if body.get("model") != entry.upstream_id:
            body["model"] = entry.upstream_id
            changed = True
        data = orjson.dumps(body) if changed else raw
        return await upstream.openai_chat(self._http, entry, data, stream, sources)

    async def _pipe_instance(self, function_id: str) -> Any:
        runtime = self.registry.functions
        loaded = runtime.cached(function_id)
        if loaded is not None:
            return loaded.instance
        async with self._core.db.sessionmaker() as session:
            row = (
                await session.execute(select(FunctionRow).where(FunctionRow.id == function_id))
            ).scalar_one_or_none()
        if row is None or not row.is_active:
            raise errors.NotFound(errors.model_not_found(function_id))
        return runtime.instance(row.id, row.content, row.valves, row.updated_at).instance

    async def embeddings(self, user: UserInfo, raw: bytes) -> Response:
        body = parse_body(raw)
        entry = await self.registry.resolve(body.get("model"), user)
        inputs = body.get("input")
        if not (isinstance(inputs, str) or (isinstance(inputs, list) and inputs)):
            raise errors.BadRequest("'input' must be a string or a non-empty list", param="input")
        return await embed(self._http, entry, body)


async def embed(http: Any, entry: ModelEntry, body: dict[str, Any]) -> Response:
    conn = entry.pick()
    if entry.kind == "pipe" or conn is None:
        raise errors.BadRequest(f"Model '{entry.id}' does not support embeddings")
    if entry.kind == "openai":
        payload = {**body, "model": entry.upstream_id}
        resp = (
            await http.request("POST", f"{conn.url}/embeddings", json=payload, headers=conn.headers)
        ).raise_for_status()
        return Response(resp.body, media_type="application/json")
    inputs = body["input"]
    resp = (
        await http.request(
            "POST",
            f"{conn.url}/api/embed",
            json={"model": entry.upstream_id, "input": inputs},
            headers=conn.headers,
        )
    ).raise_for_status()
    data = resp.json()
    vectors = data.get("embeddings") or []
    tokens = int(data.get("prompt_eval_count") or 0)
    return upstream.json_response(
        {
            "object": "list",
            "model": entry.id,
            "data": [
                {"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)
            ],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
