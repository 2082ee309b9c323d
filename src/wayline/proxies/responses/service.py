"""The Responses API (`POST /openai/responses`, `POST /ollama/v1/responses[/{url_idx}]`).

Model resolution and access control are the chat completions' (the registry's). A model on a
connection that serves `/responses` (OpenAI-compatible) or `/v1/responses` (Ollama) gets the
request as the client sent it (its id mapped to the connection's own), and the answer, JSON or
SSE, is relayed untouched. Any other model — a connection that answers as a server without
the route (`native.py`), an Ollama model reached through `/openai/responses`, an in-process
pipe — is answered through Chat Completions and the answer translated back (`request.py`,
`output.py`).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from wayline.chat.metering import connection_of
from wayline.core.errors import UpstreamError
from wayline.core.http import UpstreamClient
from wayline.core.streams import json_response
from wayline.core.usage import CHAT, Meter, status_of
from wayline.providers.connections import Connection
from wayline.providers.entries import ModelEntry
from wayline.proxies.chat_result import chat_completion
from wayline.proxies.native import NativeRoutes, route_missing
from wayline.proxies.relay import relay
from wayline.proxies.responses.output import ResponseStream, from_completion
from wayline.proxies.responses.request import to_chat, with_preset
from wayline.proxies.translated import chat_answer, translated_stream
from wayline.proxies.upstreams import Upstreams
from wayline.usage.estimate import input_tokens
from wayline.usage.observe import OPENAI, metered
from wayline.usage.scope import UNMETERED, UsageScope
from wayline.users.schemas import UserInfo


class ResponsesProxy:
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

    async def openai(self, body: dict[str, Any], user: UserInfo) -> Response:
        """`/openai/responses`: any model the user may call; OpenAI-compatible ones natively."""
        entry = await self._up.registry.resolve(body.get("model"), user)
        meter = self._usage.start(CHAT, user.id, entry.id, connection_of(entry))
        if entry.kind == "openai":
            conn = entry.pick() or entry.connection
            if conn is not None and self._native.served(conn, "/responses"):
                forwarded = await self._forward(body, entry, conn, "/responses", meter)
                if forwarded is not None:
                    return forwarded
        return await self._translate(body, entry, user, meter)

    async def ollama(self, body: dict[str, Any], user: UserInfo, index: int | None) -> Response:
        """`/ollama/v1/responses`: an Ollama model, on connection `index` if given."""
        entry, conn = await self._up.target(str(body.get("model")), user, "ollama", index)
        meter = self._usage.start(CHAT, user.id, entry.id, conn.name)
        if self._native.served(conn, "/v1/responses"):
            forwarded = await self._forward(body, entry, conn, "/v1/responses", meter)
            if forwarded is not None:
                return forwarded
        return await self._translate(body, entry, user, meter)

    async def _forward(
        self, body: dict[str, Any], entry: ModelEntry, conn: Connection, path: str, meter: Meter
    ) -> Response | None:
        """The connection's own answer, or None when it turned out not to serve `path` (then
        the meter goes on to the translated call)."""
        payload = with_preset(body, entry.params) if entry.params else body
        try:
            answer = await relay(
                self._http,
                "POST",
                f"{conn.url}{path}",
                headers=conn.headers,
                json={**payload, "model": entry.upstream_id},
                stream=bool(body.get("stream")),
            )
        except UpstreamError as exc:
            if not route_missing(exc):
                meter.finish(exc.status_code)
                raise
            self._native.mark_missing(conn, path)
            return None
        except BaseException as exc:
            meter.finish(status_of(exc))
            raise
        meter.served(entry.id, conn.name)
        return metered(
            answer, meter, wire=OPENAI, prompt_tokens=lambda: input_tokens(body.get("input"))
        )

    async def _translate(
        self, body: dict[str, Any], entry: ModelEntry, user: UserInfo, meter: Meter
    ) -> Response:
        chat = to_chat(body, entry.id)
        answer = await chat_answer(self._up.registry, entry, chat, user, meter)
        if not body.get("stream"):
            return json_response(from_completion(body, entry.id, await chat_completion(answer)))
        return translated_stream(answer, ResponseStream(body, entry.id))
