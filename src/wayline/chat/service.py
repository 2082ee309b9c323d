"""The chat pipeline: parse → resolve model → preset params → RAG seam → the router, which
calls the model's provider on one of its deployments (retries, cooldowns, fallbacks).

The body is parsed with orjson and never validated as a whole (unknown fields pass
through to OpenAI-type upstreams). When nothing had to change — no Wayline fields,
no prefix, no preset — the client's bytes are forwarded as they came.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from wayline.chat.augment import ChatAugmenter
from wayline.chat.metering import answer_metered, connection_of
from wayline.chat.params import WAYLINE_FIELDS, apply_params
from wayline.core import errors
from wayline.core.usage import CHAT, EMBEDDING
from wayline.providers.base import ChatCall
from wayline.providers.registry import ModelRegistry
from wayline.providers.routing import Router
from wayline.usage.estimate import input_tokens
from wayline.usage.observe import OPENAI, metered_answer
from wayline.usage.scope import usage_scope
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
    def __init__(
        self, registry: ModelRegistry, augmenter: ChatAugmenter | None, router: Router
    ) -> None:
        self.registry = registry
        self.augmenter = augmenter
        self.router = router  # over the model's deployments: retries, cooldowns, fallbacks

    async def complete(self, request: Request, user: UserInfo, raw: bytes) -> Response:
        started = time.perf_counter()  # the call's latency includes the pipeline (RAG too)
        body = parse_body(raw)
        entry = await self.registry.resolve(body.get("model"), user)
        provider = self.registry.providers.of(entry.kind)  # its preset params
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
        meter = usage_scope(request).start(CHAT, user.id, entry.id, connection_of(entry), started)
        return await answer_metered(provider, call, meter, self.router.chat)

    async def embeddings(self, request: Request, user: UserInfo, raw: bytes) -> Response:
        started = time.perf_counter()
        body = parse_body(raw)
        entry = await self.registry.resolve(body.get("model"), user)
        inputs = body.get("input")
        if not (isinstance(inputs, str) or (isinstance(inputs, list) and inputs)):
            raise errors.BadRequest("'input' must be a string or a non-empty list", param="input")
        scope = usage_scope(request)
        meter = scope.start(EMBEDDING, user.id, entry.id, connection_of(entry), started)
        return await metered_answer(
            meter,
            self.router.embeddings(entry, body),
            wire=OPENAI,
            prompt_tokens=lambda: input_tokens(inputs),
        )
