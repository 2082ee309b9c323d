"""The chat pipeline: parse → resolve model → preset params → RAG seam → the model's provider.

The body is parsed with orjson and never validated as a whole (unknown fields pass
through to OpenAI-type upstreams). When nothing had to change — no Wayline fields,
no prefix, no preset — the client's bytes are forwarded as they came.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from wayline.chat.augment import ChatAugmenter
from wayline.chat.params import WAYLINE_FIELDS, apply_params
from wayline.core import errors
from wayline.providers.base import ChatCall
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
    def __init__(self, registry: ModelRegistry, augmenter: ChatAugmenter | None) -> None:
        self.registry = registry
        self.augmenter = augmenter

    async def complete(self, request: Request, user: UserInfo, raw: bytes) -> Response:
        body = parse_body(raw)
        entry = await self.registry.resolve(body.get("model"), user)
        provider = self.registry.providers.of(entry.kind)
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
            apply_params(body, params, provider.preset_params)
            changed = True
        files = extras.get("files")
        sources = None
        if files and self.augmenter is not None:
            if not isinstance(files, list):
                raise errors.BadRequest("'files' must be a list", param="files")
            sources = await self.augmenter.augment(user, body, files)
            changed = True
        call = ChatCall(
            entry=entry,
            body=body,
            stream=bool(body.get("stream")),
            user=user,
            request=request,
            raw=None if changed else raw,
            sources=sources,
            extras=extras,
        )
        return await provider.chat(call)

    async def embeddings(self, user: UserInfo, raw: bytes) -> Response:
        body = parse_body(raw)
        entry = await self.registry.resolve(body.get("model"), user)
        inputs = body.get("input")
        if not (isinstance(inputs, str) or (isinstance(inputs, list) and inputs)):
            raise errors.BadRequest("'input' must be a string or a non-empty list", param="input")
        return await self.registry.providers.of(entry.kind).embeddings(entry, body)
