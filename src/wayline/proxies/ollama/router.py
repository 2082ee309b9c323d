"""`/ollama`: the Ollama API (and its OpenAI-compatible `/v1`) through Wayline.

Each model route also answers at `…/{url_idx}` to pick a connection by index.
Listing one connection (`/api/tags/{url_idx}`), `/api/ps` and model management are
admin-only, as in Open WebUI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import Response, StreamingResponse

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core.deps import CoreDep
from wayline.core.state import get_state
from wayline.proxies.messages.schemas import MessagesRequest
from wayline.proxies.messages.service import MessagesProxy
from wayline.proxies.native import NativeRoutes
from wayline.proxies.ollama import config
from wayline.proxies.ollama.model_files import ModelFiles
from wayline.proxies.ollama.schemas import (
    ChatRequest,
    CopyRequest,
    CreateRequest,
    DeleteRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    OllamaConfig,
    OpenAIBody,
    PullRequest,
    PushRequest,
    ShowRequest,
    UnloadRequest,
    UrlRequest,
    VerifyRequest,
)
from wayline.proxies.ollama.service import OllamaProxy
from wayline.proxies.responses.schemas import ResponsesRequest
from wayline.proxies.responses.service import ResponsesProxy
from wayline.proxies.upstreams import get_upstreams
from wayline.usage.scope import usage_scope

router = APIRouter(prefix="/ollama", tags=["ollama"])


def _proxy(request: Request, core: CoreDep) -> OllamaProxy:
    return OllamaProxy(
        core.http, get_upstreams(request), core.settings.MODEL_LIST_TIMEOUT, usage_scope(request)
    )


Proxy = Annotated[OllamaProxy, Depends(_proxy)]


def _messages(request: Request, core: CoreDep) -> MessagesProxy:
    native = get_state(request).get(NativeRoutes)
    return MessagesProxy(core.http, get_upstreams(request), native, usage_scope(request))


def _responses(request: Request, core: CoreDep) -> ResponsesProxy:
    native = get_state(request).get(NativeRoutes)
    return ResponsesProxy(core.http, get_upstreams(request), native, usage_scope(request))


def _model_files(request: Request, core: CoreDep) -> ModelFiles:
    return ModelFiles(core.http, get_upstreams(request), core.settings.DATA_DIR)


Messages = Annotated[MessagesProxy, Depends(_messages)]
ModelFilesDep = Annotated[ModelFiles, Depends(_model_files)]
Responses = Annotated[ResponsesProxy, Depends(_responses)]


def _with_index(
    path: str, methods: list[str], **kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a handler at `path` and at `path/{url_idx}`."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        for route in (path, path + "/{url_idx}"):
            # One documented method per path (OpenAPI operation ids must be unique); the others
            # still answer.
            router.add_api_route(route, fn, methods=methods[:1], **kwargs)
            if methods[1:]:
                router.add_api_route(
                    route, fn, methods=methods[1:], include_in_schema=False, **kwargs
                )
        return fn

    return register


@router.api_route("", methods=["GET", "HEAD"], include_in_schema=False)
@router.api_route("/", methods=["HEAD"], include_in_schema=False)
@router.get("/")
async def status() -> dict:
    return {"status": True}


@router.get("/config", response_model=OllamaConfig)
async def get_config(core: CoreDep, user: AdminUser) -> OllamaConfig:
    return await config.load(core)


@router.post("/config/update", response_model=OllamaConfig)
async def update_config(form: OllamaConfig, core: CoreDep, user: AdminUser) -> OllamaConfig:
    return await config.update(core, form)


@router.post("/verify")
async def verify(form: VerifyRequest, proxy: Proxy, user: AdminUser) -> Response:
    return await proxy.verify(form.url, form.key)


# --- listing -----------------------------------------------------------------------------
@router.get("/api/tags")
async def tags(proxy: Proxy, user: VerifiedUser) -> dict:
    return await proxy.tags(user)


@router.get("/api/tags/{url_idx}")
async def tags_at(url_idx: int, proxy: Proxy, user: AdminUser) -> Response:
    return await proxy.tags_at(url_idx)


@_with_index("/api/version", ["GET"])
async def version(proxy: Proxy, user: VerifiedUser, url_idx: int | None = None) -> Any:
    return await proxy.version(url_idx)


@router.get("/api/ps")
async def ps(proxy: Proxy, user: AdminUser) -> dict:
    return await proxy.ps()


@router.post("/api/unload")
async def unload(body: UnloadRequest, proxy: Proxy, user: AdminUser) -> dict:
    """Drop a model from the memory of every connection serving it (admin)."""
    return await proxy.unload(body.model_name)


@_with_index("/v1/models", ["GET"])
async def openai_models(proxy: Proxy, user: VerifiedUser, url_idx: int | None = None) -> dict:
    return await proxy.openai_models(user)


# --- model calls -------------------------------------------------------------------------
@router.post("/api/show")
async def show(body: ShowRequest, proxy: Proxy, user: VerifiedUser) -> Response:
    return await proxy.call(
        "/api/show", body.payload(), user, None, key="model" if body.model else "name"
    )


@_with_index("/api/chat", ["POST"])
async def chat(
    body: ChatRequest, proxy: Proxy, user: VerifiedUser, url_idx: int | None = None
) -> Response:
    return await proxy.call("/api/chat", body.payload(), user, url_idx, stream_default=True)


@_with_index("/api/generate", ["POST"])
async def generate(
    body: GenerateRequest, proxy: Proxy, user: VerifiedUser, url_idx: int | None = None
) -> Response:
    return await proxy.call("/api/generate", body.payload(), user, url_idx, stream_default=True)


@_with_index("/api/embed", ["POST"])
async def embed(
    body: EmbedRequest, proxy: Proxy, user: VerifiedUser, url_idx: int | None = None
) -> Response:
    return await proxy.call("/api/embed", body.payload(), user, url_idx)


@_with_index("/api/embeddings", ["POST"])
async def embeddings(
    body: EmbeddingsRequest, proxy: Proxy, user: VerifiedUser, url_idx: int | None = None
) -> Response:
    return await proxy.call("/api/embeddings", body.payload(), user, url_idx)


@_with_index("/v1/chat/completions", ["POST"])
async def v1_chat(
    body: OpenAIBody, proxy: Proxy, user: VerifiedUser, url_idx: int | None = None
) -> Response:
    return await proxy.call("/v1/chat/completions", body.payload(), user, url_idx)


@_with_index("/v1/completions", ["POST"])
async def v1_completions(
    body: OpenAIBody, proxy: Proxy, user: VerifiedUser, url_idx: int | None = None
) -> Response:
    return await proxy.call("/v1/completions", body.payload(), user, url_idx)


@_with_index("/v1/embeddings", ["POST"])
async def v1_embeddings(
    body: OpenAIBody, proxy: Proxy, user: VerifiedUser, url_idx: int | None = None
) -> Response:
    return await proxy.call("/v1/embeddings", body.payload(), user, url_idx)


@_with_index("/v1/messages", ["POST"])
async def v1_messages(
    body: MessagesRequest, proxy: Messages, user: VerifiedUser, url_idx: int | None = None
) -> Response:
    """Anthropic's Messages API: Ollama's own (0.14+), or translated for an older Ollama."""
    return await proxy.ollama(body.payload(), user, url_idx)


@_with_index("/v1/responses", ["POST"])
async def v1_responses(
    body: ResponsesRequest, proxy: Responses, user: VerifiedUser, url_idx: int | None = None
) -> Response:
    """OpenAI's Responses API: Ollama's own, or translated for an Ollama without it."""
    return await proxy.ollama(body.payload(), user, url_idx)


# --- model management (admin) --------------------------------------------------------------
@_with_index("/api/pull", ["POST"])
async def pull(
    body: PullRequest, proxy: Proxy, user: AdminUser, url_idx: int | None = None
) -> Response:
    return await proxy.manage(
        "POST", "/api/pull", body.payload(), user, url_idx, stream_default=True
    )


# Open WebUI declares DELETE (sic), so that is the documented method; Ollama's own POST answers.
@_with_index("/api/push", ["DELETE", "POST"])
async def push(
    body: PushRequest, proxy: Proxy, user: AdminUser, url_idx: int | None = None
) -> Response:
    return await proxy.manage(
        "POST", "/api/push", body.payload(), user, url_idx, stream_default=True
    )


@_with_index("/api/create", ["POST"])
async def create(
    body: CreateRequest, proxy: Proxy, user: AdminUser, url_idx: int | None = None
) -> Response:
    return await proxy.manage(
        "POST", "/api/create", body.payload(), user, url_idx, stream_default=True
    )


@_with_index("/api/copy", ["POST"])
async def copy(
    body: CopyRequest, proxy: Proxy, user: AdminUser, url_idx: int | None = None
) -> Response:
    return await proxy.manage("POST", "/api/copy", body.payload(), user, url_idx, model=body.source)


@_with_index("/api/delete", ["DELETE"])
async def delete(
    body: DeleteRequest, proxy: Proxy, user: AdminUser, url_idx: int | None = None
) -> Response:
    return await proxy.manage(
        "DELETE", "/api/delete", body.payload(), user, url_idx, model=body.model_name
    )


@_with_index("/models/upload", ["POST"])
async def upload_model(
    files: ModelFilesDep,
    user: AdminUser,
    file: Annotated[UploadFile, File()],
    url_idx: int | None = None,
) -> StreamingResponse:
    """A GGUF file made an Ollama model on connection `url_idx` (0 by default); SSE progress."""
    return files.upload(url_idx, file)


@_with_index("/models/download", ["POST"])
async def download_model(
    body: UrlRequest, files: ModelFilesDep, user: AdminUser, url_idx: int | None = None
) -> StreamingResponse:
    """A model file from Hugging Face or GitHub pushed to connection `url_idx` as a blob."""
    return files.download(url_idx, body.url)
