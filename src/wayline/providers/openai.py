"""The OpenAI-compatible dialect: `/models`, `/chat/completions` and `/embeddings` of any server
that speaks OpenAI's API (OpenAI, vLLM, llama.cpp, LiteLLM, ...).

Chat bodies are forwarded as the client sent them whenever nothing had to change, and SSE
bytes are relayed untouched (RAG sources go first, as one extra chunk).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar

import orjson
from starlette.responses import Response

from wayline.core.settings import Settings
from wayline.core.state import Core
from wayline.core.streams import DONE, event_stream, json_response, open_stream, sse_error_event
from wayline.providers.base import (
    OPENAI_PARAMS,
    ChatCall,
    Health,
    probe_by_listing,
    sources_event,
    with_sources,
)
from wayline.providers.connections import Connection, configured
from wayline.providers.entries import ModelEntry, openai_entry, with_alternate

# Open WebUI hides these from api.openai.com listings: they are not chat models.
_HIDDEN = ("babbage", "dall-e", "davinci", "embedding", "tts", "whisper")
_ID = re.compile(rb'"id"\s*:\s*"([^"]+)"')


class OpenAIProvider:
    kind: ClassVar[str] = "openai"
    preset_params: ClassVar[tuple[str, ...]] = OPENAI_PARAMS
    uses_connections: ClassVar[bool] = True
    # Honours `stream_options.include_usage`: asked for by the usage ledger (chat/metering.py).
    asks_stream_usage: ClassVar[bool] = True

    def __init__(self, core: Core) -> None:
        self._http = core.http

    def connections(self, settings: Settings) -> list[Connection]:
        if not settings.ENABLE_OPENAI_API:
            return []
        return configured(
            "openai",
            settings.openai_base_urls,
            settings.openai_api_keys,
            settings.openai_api_configs,
            "external",
        )

    async def list_models(self, conn: Connection | None, timeout: float) -> list[ModelEntry]:
        assert conn is not None
        if conn.model_ids:
            return [
                openai_entry(conn, {"id": m, "object": "model", "created": 0, "owned_by": "openai"})
                for m in conn.model_ids
            ]
        resp = (
            await self._http.request(
                "GET", f"{conn.url}/models", headers=conn.headers, timeout=timeout
            )
        ).raise_for_status()
        data = resp.json()
        items = data.get("data", []) if isinstance(data, dict) else data
        hide = "api.openai.com" in conn.url
        return [
            openai_entry(conn, raw)
            for raw in items
            if isinstance(raw, dict)
            and "id" in raw
            and not (hide and any(h in str(raw["id"]) for h in _HIDDEN))
        ]

    def merge(self, first: ModelEntry, other: ModelEntry, turns: Iterator[int]) -> ModelEntry:
        """One model, one more deployment: the router chooses among them (routing.py); the
        first connection's listing is what `/api/models` shows."""
        return with_alternate(first, other, turns)

    async def probe(self, conn: Connection | None, timeout: float) -> Health:
        # A connection's configured `model_ids` answer a listing without asking the server.
        asked = replace(conn, model_ids=()) if conn is not None and conn.model_ids else conn
        return await probe_by_listing(self, asked, timeout)

    async def chat(self, call: ChatCall) -> Response:
        entry, body = call.entry, call.body
        conn = entry.connection
        assert conn is not None
        if call.meter is not None:
            call.meter.served(entry.id, conn.name)
        data = call.raw
        if body.get("model") != entry.upstream_id:
            body["model"] = entry.upstream_id
            data = None
        data = data if data is not None else orjson.dumps(body)
        url = f"{conn.url}/chat/completions"
        if not call.stream:
            resp = (
                await self._http.request("POST", url, data=data, headers=conn.headers)
            ).raise_for_status()
            if call.sources is None:
                return Response(resp.body, status_code=resp.status, media_type="application/json")
            return json_response(with_sources(resp.json(), call.sources), resp.status)
        opened = await open_stream(
            self._http, "POST", url, data=data, headers=conn.headers, prime=True
        )
        if "text/event-stream" not in opened.headers.get("Content-Type", "text/event-stream"):
            # Some servers answer a stream request with plain JSON: pass that on as JSON.
            return Response(
                await opened.read(),
                status_code=opened.status,
                media_type=opened.headers.get("Content-Type"),
            )
        sources = call.sources

        def first(chunk: bytes) -> bytes:
            found = _ID.search(chunk)
            return sources_event(
                found.group(1).decode() if found else None, entry.id, sources or []
            )

        def on_error(exc: BaseException, tail: bytes) -> bytes:
            return (b"" if tail == b"\n\n" else b"\n\n") + sse_error_event(exc) + DONE

        return event_stream(opened.relay(on_error, before=first if sources is not None else None))

    async def embeddings(self, entry: ModelEntry, body: dict[str, Any]) -> Response:
        conn = entry.pick()
        assert conn is not None
        payload = {**body, "model": entry.upstream_id}
        resp = (
            await self._http.request(
                "POST", f"{conn.url}/embeddings", json=payload, headers=conn.headers
            )
        ).raise_for_status()
        return Response(resp.body, media_type="application/json")
