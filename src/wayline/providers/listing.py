"""Fetching one connection's model list (the only upstream I/O the registry does)."""

from __future__ import annotations

from wayline.core.http import UpstreamClient
from wayline.providers.connections import Connection
from wayline.providers.entries import ModelEntry, ollama_entry, openai_entry

# Open WebUI hides these from api.openai.com listings: they are not chat models.
_OPENAI_HIDDEN = ("babbage", "dall-e", "davinci", "embedding", "tts", "whisper")


async def fetch_models(http: UpstreamClient, conn: Connection, timeout: float) -> list[ModelEntry]:
    if conn.kind == "openai":
        if conn.model_ids:
            return [openai_entry(conn, {"id": m, "object": "model", "created": 0, "owned_by": "openai"}) for m in conn.model_ids]
        resp = (await http.request("GET", f"{conn.url}/models", headers=conn.headers, timeout=timeout)).raise_for_status()
        data = resp.json()
        items = data.get("data", []) if isinstance(data, dict) else data
        hide = "api.openai.com" in conn.url
        return [
            openai_entry(conn, raw) for raw in items
            if isinstance(raw, dict) and "id" in raw and not (hide and any(h in str(raw["id"]) for h in _OPENAI_HIDDEN))
        ]
    resp = (await http.request("GET", f"{conn.url}/api/tags", headers=conn.headers, timeout=timeout)).raise_for_status()
    tags = resp.json().get("models", [])
    entries = [ollama_entry(conn, tag) for tag in tags if isinstance(tag, dict) and (tag.get("model") or tag.get("name"))]
    if conn.model_ids:
        entries = [e for e in entries if e.upstream_id in conn.model_ids]
    return entries
