"""`POST /api/chat/completions`, `POST /api/embeddings` (and their `/api/v1` aliases): the
twins of the fast routes in `fastpath.py`, which answer first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from wayline.auth.deps import VerifiedUser
from wayline.chat.service import ChatService
from wayline.core.deps import StateDep

router = APIRouter(tags=["chat"])


def get_chat(state: StateDep) -> ChatService:
    return state.get(ChatService)


Chat = Annotated[ChatService, Depends(get_chat)]

# The body is parsed with orjson, not pydantic (unknown fields pass through untouched),
# so its shape is declared here for the OpenAPI document only.
_CHAT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["model", "messages"],
                    "additionalProperties": True,
                    "properties": {
                        "model": {"type": "string"},
                        "stream": {"type": "boolean"},
                        "messages": {
                            "type": "array",
                            "items": {"type": "object", "additionalProperties": True},
                        },
                        "files": {"type": "array", "items": {"type": "object"}},
                        "params": {"type": "object"},
                    },
                }
            }
        },
    }
}
_EMBED_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["model", "input"],
                    "additionalProperties": True,
                    "properties": {
                        "model": {"type": "string"},
                        "input": {"oneOf": [{"type": "string"}, {"type": "array"}]},
                    },
                }
            }
        },
    }
}


@router.post("/api/chat/completions", openapi_extra=_CHAT_BODY)
@router.post("/api/v1/chat/completions", openapi_extra=_CHAT_BODY)
async def chat_completions(request: Request, user: VerifiedUser, chat: Chat) -> Response:
    """OpenAI-compatible chat completion for any model in `/api/models` (stream or not)."""
    return await chat.complete(request, user, await request.body())


@router.post("/api/embeddings", openapi_extra=_EMBED_BODY)
@router.post("/api/v1/embeddings", openapi_extra=_EMBED_BODY)
async def embeddings(request: Request, user: VerifiedUser, chat: Chat) -> Response:
    """OpenAI-shaped embeddings, routed to the model's connection."""
    return await chat.embeddings(request, user, await request.body())
