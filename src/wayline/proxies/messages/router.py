"""`POST /api/v1/messages` (alias `/api/message`): Open WebUI's Anthropic Messages endpoint for
every model, through the chat pipeline. The Anthropic SDK's `x-api-key` header is accepted as
every route accepts it (`CUSTOM_API_KEY_HEADER`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from wayline.auth.deps import VerifiedUser
from wayline.chat.service import ChatService
from wayline.core.deps import CoreDep, StateDep
from wayline.proxies.messages.schemas import CountTokensRequest, MessagesRequest
from wayline.proxies.messages.service import MessagesProxy
from wayline.proxies.native import NativeRoutes
from wayline.proxies.upstreams import get_upstreams

router = APIRouter(tags=["messages"])


@router.post("/api/v1/messages")
@router.post("/api/message")
async def messages(
    body: MessagesRequest, request: Request, state: StateDep, user: VerifiedUser
) -> Response:
    """Anthropic's Messages API, answered through Chat Completions for any model."""
    return await MessagesProxy.translate(state.get(ChatService), request, body.payload(), user)


def _proxy(request: Request, core: CoreDep, state: StateDep) -> MessagesProxy:
    return MessagesProxy(core.http, get_upstreams(request), state.get(NativeRoutes))


@router.post("/api/v1/messages/count_tokens")
@router.post("/api/message/count_tokens")
async def count_tokens(
    body: CountTokensRequest,
    proxy: Annotated[MessagesProxy, Depends(_proxy)],
    user: VerifiedUser,
) -> dict[str, int]:
    """Anthropic's token count, from the model's connection where it can count."""
    return await proxy.count_tokens(body.payload(), user)
