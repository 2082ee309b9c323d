"""`GET /api/models/base` (admin): every base model — the connections' and the function models,
no workspace presets. `POST /api/models/unload`: Open WebUI's one unload route, whichever
connection serves the model.

A workspace preset unloads its base model. Ollama connections drop the model from memory (a
`keep_alive: 0` generate on every connection that lists it); llama.cpp and LM Studio connections
use their management API (`openai/management.py`); any other provider answers 400, as in
Open WebUI.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wayline.auth.deps import AdminUser
from wayline.core import errors
from wayline.core.deps import CoreDep
from wayline.core.state import get_state
from wayline.providers.registry import ModelRegistry
from wayline.proxies.ollama.schemas import UnloadRequest
from wayline.proxies.ollama.service import OllamaProxy
from wayline.proxies.openai.management import ModelManagement
from wayline.proxies.upstreams import get_upstreams

router = APIRouter(tags=["models"])


@router.get("/api/models/base")
async def base_models(request: Request, user: AdminUser) -> dict[str, list[dict[str, Any]]]:
    snapshot = await get_state(request).get(ModelRegistry).snapshot()
    return {"data": [entry.public for entry in snapshot.bases.values()]}


@router.post("/api/models/unload", response_model=None)
async def unload_model(
    body: UnloadRequest, request: Request, core: CoreDep, user: AdminUser
) -> dict[str, Any] | Response:
    registry = get_state(request).get(ModelRegistry)
    entry = await registry.resolve(body.model_name, user)
    model = entry.base_id if entry.preset and entry.base_id else entry.id
    if entry.kind == "ollama":
        proxy = OllamaProxy(core.http, get_upstreams(request), core.settings.MODEL_LIST_TIMEOUT)
        return await proxy.unload(model)
    if entry.kind == "openai" and entry.connection is not None:
        manage = ModelManagement(core, core.http, get_upstreams(request))
        return await manage.call(entry.connection.index, "unload", "POST", payload={"model": model})
    raise errors.BadRequest(f"Model '{body.model_name}' is served in-process: nothing to unload")
