"""`GET /api/models`: every model the caller may use (pipes, OpenAI-compatible, Ollama, then
workspace models). Served by the fast route in `chat/fastpath.py`; declared here for the
OpenAPI document and the twin test."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from wayline.auth.deps import VerifiedUser
from wayline.core.deps import StateDep
from wayline.providers.registry import ModelRegistry

router = APIRouter(tags=["models"])


def get_registry(state: StateDep) -> ModelRegistry:
    return state.get(ModelRegistry)


Registry = Annotated[ModelRegistry, Depends(get_registry)]


@router.get("/api/models")
@router.get("/api/v1/models")
@router.get("/api/v1/models/")
async def list_models(user: VerifiedUser, registry: Registry, refresh: bool = False) -> Response:
    """Every model the caller may use: pipes, OpenAI-compatible, Ollama, then workspace models."""
    return Response(await registry.list_body(user, refresh), media_type="application/json")
