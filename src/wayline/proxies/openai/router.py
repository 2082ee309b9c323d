"""`/openai`: models, chat completions, embeddings, config (admin), and an opt-in pass-through."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core.deps import CoreDep
from wayline.core.state import get_state
from wayline.media.audio.schemas import SpeechRequest
from wayline.proxies.native import NativeRoutes
from wayline.proxies.openai import config
from wayline.proxies.openai.management import ModelManagement
from wayline.proxies.openai.schemas import (
    ChatCompletionRequest,
    EmbeddingsRequest,
    OpenAIConfig,
    ProviderModelRequest,
    VerifyRequest,
)
from wayline.proxies.openai.service import OpenAIProxy
from wayline.proxies.responses.schemas import ResponsesRequest
from wayline.proxies.responses.service import ResponsesProxy
from wayline.proxies.upstreams import get_upstreams
from wayline.usage.scope import usage_scope

router = APIRouter(prefix="/openai", tags=["openai"])


def _proxy(request: Request, core: CoreDep) -> OpenAIProxy:
    return OpenAIProxy(core.http, get_upstreams(request), core.settings, usage_scope(request))


Proxy = Annotated[OpenAIProxy, Depends(_proxy)]


def _responses(request: Request, core: CoreDep) -> ResponsesProxy:
    native = get_state(request).get(NativeRoutes)
    return ResponsesProxy(core.http, get_upstreams(request), native, usage_scope(request))


Responses = Annotated[ResponsesProxy, Depends(_responses)]


def _management(request: Request, core: CoreDep) -> ModelManagement:
    return ModelManagement(core, core.http, get_upstreams(request))


Management = Annotated[ModelManagement, Depends(_management)]


@router.get("/config", response_model=OpenAIConfig)
async def get_config(core: CoreDep, user: AdminUser) -> OpenAIConfig:
    return await config.load(core)


@router.post("/config/update", response_model=OpenAIConfig)
async def update_config(form: OpenAIConfig, core: CoreDep, user: AdminUser) -> OpenAIConfig:
    return await config.update(core, form)


@router.post("/verify")
async def verify(form: VerifyRequest, proxy: Proxy, user: AdminUser) -> Response:
    return await proxy.verify(form.url, form.key)


@router.get("/models")
async def models(proxy: Proxy, user: VerifiedUser) -> dict:
    return await proxy.models(user)


@router.get("/models/{url_idx}")
async def models_at(url_idx: int, proxy: Proxy, user: AdminUser) -> Response:
    return await proxy.models_at(url_idx)


# --- model management on llama.cpp / LM Studio connections (admin) -------------------------
@router.get("/models/{url_idx}/catalog")
async def model_catalog(url_idx: int, manage: Management, user: AdminUser) -> Response:
    return await manage.call(url_idx, "list")


@router.post("/models/{url_idx}/download")
async def download_model(
    url_idx: int, body: ProviderModelRequest, manage: Management, user: AdminUser
) -> Response:
    return await manage.call(url_idx, "download", "POST", payload=body.payload())


@router.get("/models/{url_idx}/download/status/{job_id}")
async def download_status(
    url_idx: int, job_id: str, manage: Management, user: AdminUser
) -> Response:
    return await manage.call(url_idx, "download_status", job_id=job_id)


@router.post("/models/{url_idx}/load")
async def load_model(
    url_idx: int, body: ProviderModelRequest, manage: Management, user: AdminUser
) -> Response:
    return await manage.call(url_idx, "load", "POST", payload=body.payload())


@router.post("/models/{url_idx}/unload")
async def unload_model(
    url_idx: int, body: ProviderModelRequest, manage: Management, user: AdminUser
) -> Response:
    return await manage.call(url_idx, "unload", "POST", payload=body.payload())


@router.get("/models/{url_idx}/sse")
async def model_events(url_idx: int, manage: Management, user: AdminUser) -> Response:
    return await manage.call(url_idx, "sse", stream=True)


@router.delete("/models/{url_idx}")
async def delete_model(url_idx: int, model: str, manage: Management, user: AdminUser) -> Response:
    return await manage.call(url_idx, "delete", "DELETE", model=model)


@router.post("/chat/completions")
async def chat_completions(
    body: ChatCompletionRequest, proxy: Proxy, user: VerifiedUser
) -> Response:
    return await proxy.chat(body.payload(), user)


@router.post("/embeddings")
async def embeddings(body: EmbeddingsRequest, proxy: Proxy, user: VerifiedUser) -> Response:
    return await proxy.embeddings(body.payload(), user)


@router.post("/responses")
async def responses(body: ResponsesRequest, proxy: Responses, user: VerifiedUser) -> Response:
    """OpenAI's Responses API for any model the user may call: forwarded to connections that
    serve it, answered through Chat Completions (and translated back) for the others."""
    return await proxy.openai(body.payload(), user)


@router.post(
    "/audio/speech", response_class=Response, responses={200: {"content": {"audio/mpeg": {}}}}
)
async def speech(body: SpeechRequest, proxy: Proxy, user: VerifiedUser) -> Response:
    audio = await proxy.speech(body.model_dump(exclude_none=True))
    return Response(audio.data, media_type=audio.content_type)


# The routes' OpenAPI description (one line, as the docs have always shown it).
_PASSTHROUGH_DESCRIPTION = (
    "Any other OpenAI route, forwarded to the first connection — "
    "only with ENABLE_OPENAI_API_PASSTHROUGH=true."
)


async def passthrough(path: str, request: Request, proxy: Proxy, user: VerifiedUser) -> Response:
    """Any other OpenAI route, forwarded to the first connection — only with
    ENABLE_OPENAI_API_PASSTHROUGH=true."""
    body = await request.body()
    return await proxy.passthrough(
        request.method, path, request.url.query, dict(request.headers), body
    )


for _method in (
    "GET",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
):  # one route per method: operation ids stay unique
    router.add_api_route(
        "/{path:path}",
        passthrough,
        methods=[_method],
        name=f"passthrough_{_method.lower()}",
        description=_PASSTHROUGH_DESCRIPTION,
    )
