"""Model management on llama.cpp and LM Studio connections: Open WebUI 0.12's admin routes
`/openai/models/{url_idx}/catalog`, `…/download`, `…/download/status/{job_id}`, `…/load`,
`…/unload`, `…/sse` and `DELETE /openai/models/{url_idx}?model=`.

Which management API a connection speaks is its `provider` in `OPENAI_API_CONFIGS`
(`llama.cpp` or `lmstudio`, as in Open WebUI); any other answers 400 saying so. The calls go
to the server's root (the connection URL without `/v1`, `/api/v1` or `/api/v0`); model ids
lose the connection's `prefix_id`; a change makes every worker list the models again.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from fastapi.responses import Response

from wayline.core import errors
from wayline.core.http import UpstreamClient
from wayline.core.state import Core
from wayline.core.streams import json_response
from wayline.models.repository import MODELS_CHANGED
from wayline.providers.connections import Connection
from wayline.proxies.openai import config
from wayline.proxies.relay import relay
from wayline.proxies.upstreams import Upstreams

# Each provider's management paths, from the server's root (Open WebUI's table).
ENDPOINTS: dict[str, dict[str, str]] = {
    "llama.cpp": {
        "list": "/models",
        "download": "/models",
        "delete": "/models",
        "load": "/models/load",
        "unload": "/models/unload",
        "sse": "/models/sse",
    },
    "lmstudio": {
        "list": "/api/v1/models",
        "download": "/api/v1/models/download",
        "download_status": "/api/v1/models/download/status/{job_id}",
        "load": "/api/v1/models/load",
        "unload": "/api/v1/models/unload",
    },
}
_API_SUFFIXES = ("/api/v1", "/api/v0", "/v1")


def root_url(url: str) -> str:
    url = url.rstrip("/")
    for suffix in _API_SUFFIXES:
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


class ModelManagement:
    def __init__(self, core: Core, http: UpstreamClient, upstreams: Upstreams) -> None:
        self._core = core
        self._http = http
        self._up = upstreams

    async def _target(self, index: int) -> tuple[Connection, str]:
        conn = self._up.connection("openai", index)
        configs = (await config.load(self._core)).OPENAI_API_CONFIGS
        raw = configs.get(str(index), configs.get(conn.url))
        provider = str((raw if isinstance(raw, dict) else {}).get("provider") or "")
        if provider not in ENDPOINTS:
            raise errors.BadRequest(
                f'Provider "{provider or "default"}" does not support model management: set '
                f'"provider" to "llama.cpp" or "lmstudio" in OPENAI_API_CONFIGS["{index}"]'
            )
        return conn, provider

    async def call(
        self,
        index: int,
        operation: str,
        method: str = "GET",
        *,
        payload: dict[str, Any] | None = None,
        model: str | None = None,
        job_id: str = "",
        stream: bool = False,
    ) -> Response:
        conn, provider = await self._target(index)
        path = ENDPOINTS[provider].get(operation)
        if path is None:
            raise errors.BadRequest(f'Provider "{provider}" does not support {operation}')
        url = root_url(conn.url) + path.format(job_id=quote(job_id, safe=""))
        if payload is not None:
            payload = {**payload, "model": conn.upstream_id(str(payload.get("model")))}
            if provider == "lmstudio" and operation == "unload":
                payload = {"instance_id": payload.get("instance_id") or payload["model"]}
        query = {"model": conn.upstream_id(model)} if model is not None else None
        if stream:
            return await relay(self._http, method, url, headers=conn.headers, stream=True)
        resp = (
            await self._http.request(method, url, json=payload, params=query, headers=conn.headers)
        ).raise_for_status()
        if method != "GET":
            await self._core.bus.publish(MODELS_CHANGED, {})
        try:
            return json_response(orjson.loads(resp.body))
        except orjson.JSONDecodeError:
            return json_response({"success": True})
