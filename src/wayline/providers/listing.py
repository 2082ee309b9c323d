"""Fetching one connection's model list (the only upstream I/O the registry does)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from wayline.core.http import UpstreamClient
from wayline.providers.connections import Connection
from wayline.providers.entries import ModelEntry, ollama_entry, openai_entry

log = logging.getLogger("wayline.providers")

# Open WebUI hides these from api.openai.com listings: they are not chat models.
_OPENAI_HIDDEN = ("babbage", "dall-e", "davinci", "embedding", "tts", "whisper")


async def fetch_models(http: UpstreamClient, conn: Connection, timeout: float) -> list[ModelEntry]:
    if conn.kind == "openai":
        if conn.model_ids:
            return [
                openai_entry(conn, {"id": m, "object": "model", "created": 0, "owned_by": "openai"})
                for m in conn.model_ids
            ]
        resp = (
            await http.request("GET", f"{conn.url}/models", headers=conn.headers, timeout=timeout)
        ).raise_for_status()
        data = resp.json()
        items = data.get("data", []) if isinstance(data, dict) else data
        hide = "api.openai.com" in conn.url
        return [
            openai_entry(conn, raw)
            for raw in items
            if isinstance(raw, dict)
            and "id" in raw
            and not (hide and any(h in str(raw["id"]) for h in _OPENAI_HIDDEN))
        ]
    tags_resp, loaded = await asyncio.gather(
        http.request("GET", f"{conn.url}/api/tags", headers=conn.headers, timeout=timeout),
        _loaded_models(http, conn, timeout),
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
