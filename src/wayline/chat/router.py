"""`POST /api/chat/completions`, `POST /api/embeddings` (and their `/api/v1` aliases)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from wayline.auth.deps import VerifiedUser

router = APIRouter(tags=["chat"])


@router.post("/api/chat/completions")
@router.post("/api/v1/chat/completions")
async def chat_completions(request: Request, user: VerifiedUser) -> Response:
    """OpenAI-compatible chat completion for any model in `/api/models` (stream or not)."""
    return await request.app.state.chat.complete(request, user, await request.body())


@router.post("/api/embeddings")
@router.post("/api/v1/embeddings")
async def embeddings(request: Request, user: VerifiedUser) -> Response:
    """OpenAI-shaped embeddings, routed to the model's connection."""
    return await request.app.state.chat.embeddings(user, await request.body())
