"""The Anthropic Messages API: `POST /ollama/v1/messages[/{url_idx}]` and `POST /api/v1/messages`
(alias `/api/message`).

`/ollama/v1/messages` is Open WebUI's proxy of Ollama's own Messages endpoint (Ollama 0.14
and later): an Ollama model's request goes to its connection as sent (model id mapped) and
the answer, JSON or SSE, is relayed untouched. An older Ollama that answers without the route
(`native.py`) gets the request as an `/api/chat` through the Ollama provider instead, and the
answer is translated back. `/api/v1/messages` is Open WebUI's own Messages endpoint for every
model: translated to Chat Completions and run through the chat pipeline
(`/api/chat/completions`: presets, every provider), the answer translated back.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from wayline.chat.service import ChatService
from wayline.core import errors
from wayline.core.errors import UpstreamError
from wayline.core.http import UpstreamClient
from wayline.core.streams import json_response
from wayline.core.usage import CHAT, status_of
from wayline.proxies.chat_result import chat_completion
from wayline.proxies.messages.output import MessageStream, from_completion
from wayline.proxies.messages.request import to_chat, with_preset
from wayline.proxies.native import NativeRoutes, route_missing
from wayline.proxies.relay import relay
from wayline.proxies.translated import chat_answer, translated_stream
from wayline.proxies.upstreams import Upstreams
from wayline.usage.estimate import request_tokens
from wayline.usage.observe import OPENAI, metered
from wayline.usage.scope import UNMETERED, UsageScope
from wayline.users.schemas import UserInfo

NATIVE_PATH = "/v1/messages"


class MessagesProxy:
    def __init__(
        self,
        http: UpstreamClient,
        upstreams: Upstreams,
        native: NativeRoutes,
        usage: UsageScope = UNMETERED,
    ) -> None:
        self._http = http
        self._up = upstreams
        self._native = native
        self._usage = usage

    async def ollama(self, body: dict[str, Any], user: UserInfo, index: int | None) -> Response:
        entry, conn = await self._up.target(str(body.get("model")), user, "ollama", index)
        meter = self._usage.start(CHAT, user.id, entry.id, conn.name)
        if self._native.served(conn, NATIVE_PATH):
            payload = with_preset(body, entry.params) if entry.params else body
            try:
                answer = await relay(
                    self._http,
                    "POST",
                    f"{conn.url}{NATIVE_PATH}",
                    headers=conn.headers,
                    json={**payload, "model": entry.upstream_id},
                    stream=bool(body.get("stream")),
                )
            except UpstreamError as exc:
                if not route_missing(exc):
                    meter.finish(exc.status_code)
                    raise
                self._native.mark_missing(conn, NATIVE_PATH)
            except BaseException as exc:
                meter.finish(status_of(exc))
                raise
            else:  # the Messages API's counts: `usage` of the answer or of its events
                prompt = partial(request_tokens, body)
                return metered(answer, meter, wire=OPENAI, prompt_tokens=prompt)
        answer = await chat_answer(self._up.registry, entry, to_chat(body), user, meter)
        return await answer_as_message(body, answer)

    async def count_tokens(self, body: dict[str, Any], user: UserInfo) -> dict[str, int]:
        """Open WebUI's `/api/v1/messages/count_tokens`: the model's connection counts (an
        Anthropic-compatible server's `/messages/count_tokens`, Ollama's `/v1/...`); one that
        cannot is a 400 saying so, never a made-up number."""
        entry = await self._up.registry.resolve(body.get("model"), user)
        conn = entry.pick() or entry.connection
        model = body.get("model")
        if conn is None:
            raise errors.BadRequest(f"Model '{model}' is answered in-process: no token count")
        path = "/v1/messages/count_tokens" if conn.kind == "ollama" else "/messages/count_tokens"
        try:
            resp = await self._http.request(
                "POST",
                f"{conn.url}{path}",
                json={**body, "model": entry.upstream_id},
                headers=conn.headers,
            )
            resp.raise_for_status()
        except UpstreamError as exc:
            if not route_missing(exc):
                raise
            raise errors.BadRequest(
                f"The connection of model '{model}' does not count tokens (it has no {path})"
            ) from exc
        counted = resp.json().get("input_tokens") if resp.body.startswith(b"{") else None
        if isinstance(counted, bool) or not isinstance(counted, int) or counted < 0:
            raise UpstreamError(502, "Invalid token-count answer from the model's connection")
        return {"input_tokens": counted}

    @staticmethod
    async def translate(
        chat: ChatService, request: Request, body: dict[str, Any], user: UserInfo
    ) -> Response:
        answer = await chat.complete(request, user, orjson.dumps(to_chat(body)))
        return await answer_as_message(body, answer)


async def answer_as_message(body: dict[str, Any], answer: Response) -> Response:
    model = str(body.get("model"))
    if body.get("stream"):
        return translated_stream(answer, MessageStream(model))
    return json_response(from_completion(model, await chat_completion(answer)))
