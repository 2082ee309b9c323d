"""The Ollama dialect: `/api/tags` (+ `/api/ps`) for the model list, `/api/chat` and `/api/embed`.

Requests and answers are translated from and to OpenAI's shapes (`ollama_wire.py`); a stream's
NDJSON lines become `chat.completion.chunk` events as they arrive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any, ClassVar

import orjson
from starlette.responses import Response

from wayline.core.errors import UpstreamError
from wayline.core.http import UpstreamClient
from wayline.core.settings import Settings
from wayline.core.state import Core
from wayline.core.streams import (
    DONE,
    STREAM_FAILURES,
    OpenStream,
    event_stream,
    json_response,
    open_stream,
    sse_error_event,
    sse_event,
)
from wayline.providers import ollama_wire as wire
from wayline.providers.base import ChatCall, Health, probe_by_listing, sources_event, with_sources
from wayline.providers.connections import Connection, configured
from wayline.providers.entries import ModelEntry, ollama_entry, with_alternate

log = logging.getLogger("wayline.providers")


class OllamaProvider:
    kind: ClassVar[str] = "ollama"
    preset_params: ClassVar[tuple[str, ...]] = (
        *wire.OPTION_MAP,
        "keep_alive",
        "think",
        "format",
        "response_format",
    )
    uses_connections: ClassVar[bool] = True

    def __init__(self, core: Core) -> None:
        self._http = core.http

    def connections(self, settings: Settings) -> list[Connection]:
        if not settings.ENABLE_OLLAMA_API:
            return []
        return configured(
            "ollama", settings.ollama_base_urls, [], settings.ollama_api_configs, "local"
        )

    async def list_models(self, conn: Connection | None, timeout: float) -> list[ModelEntry]:
        assert conn is not None
        tags_resp, loaded = await asyncio.gather(
            self._http.request(
                "GET", f"{conn.url}/api/tags", headers=conn.headers, timeout=timeout
            ),
            _loaded_models(self._http, conn, timeout),
        )
        tags = tags_resp.raise_for_status().json().get("models", [])
        entries = []
        for tag in tags:
            name = isinstance(tag, dict) and (tag.get("model") or tag.get("name"))
            if name:
                entries.append(ollama_entry(conn, tag, loaded.get(str(name)), str(name) in loaded))
        if conn.model_ids:
            entries = [e for e in entries if e.upstream_id in conn.model_ids]
        return entries

    def merge(self, first: ModelEntry, other: ModelEntry, turns: Iterator[int]) -> ModelEntry:
        return _merge(first, other, turns)

    async def probe(self, conn: Connection | None, timeout: float) -> Health:
        return await probe_by_listing(self, conn, timeout)

    async def chat(self, call: ChatCall) -> Response:
        entry = call.entry
        conn = entry.pick()
        assert conn is not None
        if call.meter is not None:
            call.meter.served(entry.id, conn.name)
        payload = orjson.dumps(wire.to_ollama_chat(call.body, entry.upstream_id))
        url = f"{conn.url}/api/chat"
        if not call.stream:
            resp = (
                await self._http.request("POST", url, data=payload, headers=conn.headers)
            ).raise_for_status()
            answer = wire.from_ollama_chat(resp.json(), entry.id)
            return json_response(with_sources(answer, call.sources))
        opened = await open_stream(
            self._http, "POST", url, data=payload, headers=conn.headers, prime=True
        )
        return event_stream(_translate(opened, entry.id, call.sources))

    async def embeddings(self, entry: ModelEntry, body: dict[str, Any]) -> Response:
        conn = entry.pick()
        assert conn is not None
        resp = (
            await self._http.request(
                "POST",
                f"{conn.url}/api/embed",
                json={"model": entry.upstream_id, "input": body["input"]},
                headers=conn.headers,
            )
        ).raise_for_status()
        data = resp.json()
        vectors = data.get("embeddings") or []
        tokens = int(data.get("prompt_eval_count") or 0)
        return json_response(
            {
                "object": "list",
                "model": entry.id,
                "data": [
                    {"object": "embedding", "index": i, "embedding": v}
                    for i, v in enumerate(vectors)
                ],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )


def _merge(first: ModelEntry, other: ModelEntry, turns: Iterator[int]) -> ModelEntry:
    """The same Ollama model on another connection: one entry, both urls (a new object:
    the per-connection lists are reused across rebuilds and must not be mutated). Loaded
    anywhere counts as loaded; the first connection's `expires_at` wins, as in Open WebUI."""
    assert other.connection is not None
    ollama = {
        **first.public["ollama"],
        "urls": [*first.public["ollama"]["urls"], other.connection.index],
    }
    if "expires_at" not in ollama and "expires_at" in other.public["ollama"]:
        ollama["expires_at"] = other.public["ollama"]["expires_at"]
    public = {
        **first.public,
        "ollama": ollama,
        "loaded": bool(first.public.get("loaded") or other.public.get("loaded")),
    }
    return with_alternate(first, other, turns, public)


async def _translate(
    opened: OpenStream, model: str, sources: list[dict[str, Any]] | None
) -> AsyncIterator[bytes]:
    translator = wire.StreamTranslator(model)
    try:
        if sources is not None:
            yield sources_event(translator.id, model, sources)
        done = False
        async for line in opened.lines():
            if not line.strip():
                continue
            data = orjson.loads(line)
            for chunk in translator.translate(data):
                yield sse_event(chunk)
            done = done or bool(data.get("done"))
        if not done:
            raise UpstreamError(502, "Ollama closed the stream before it was done")
        yield DONE
    except STREAM_FAILURES as exc:  # orjson.JSONDecodeError is a ValueError
        yield sse_error_event(exc) + DONE
    finally:
        await opened.close()


async def _loaded_models(
    http: UpstreamClient, conn: Connection, timeout: float
) -> dict[str, int | None]:
    """Models in Ollama's memory (`/api/ps`) -> when they unload (Unix seconds). Fetched with the
    list, so `/api/models` stays a cached body; a server without `/api/ps` just has none loaded."""
    try:
        resp = (
            await http.request("GET", f"{conn.url}/api/ps", headers=conn.headers, timeout=timeout)
        ).raise_for_status()
        models = resp.json().get("models") or []
    except Exception as exc:
        log.debug("%s /api/ps failed: %s", conn.name, getattr(exc, "detail", exc))
        return {}
    loaded: dict[str, int | None] = {}
    for model in models if isinstance(models, list) else ():
        if not isinstance(model, dict):
            continue
        expires = _unix(model.get("expires_at"))
        for key in ("model", "name"):
            if isinstance(model.get(key), str):
                loaded[model[key]] = expires
    return loaded


def _unix(value: Any) -> int | None:
    """Ollama's RFC 3339 `expires_at` (nanoseconds, offset or `Z`) as Unix seconds."""
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value).timestamp())
    except ValueError:
        return None
