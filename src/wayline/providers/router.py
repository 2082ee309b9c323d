"""`GET /api/models`: every model the caller may use (pipes, OpenAI-compatible, Ollama, then
workspace models). Served by the fast route in `chat/fastpath.py`; declared here for the
OpenAPI document and the twin test. `GET /api/v1/connections/health` (admin): each
deployment's state (health.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core.deps import StateDep
from wayline.providers.health import HealthMonitor
from wayline.providers.registry import ModelRegistry
from wayline.providers.schemas import ConnectionsHealth

router = APIRouter(tags=["models"])
health_router = APIRouter(prefix="/api/v1/connections", tags=["connections"])


def get_registry(state: StateDep) -> ModelRegistry:
    return state.get(ModelRegistry)


Registry = Annotated[ModelRegistry, Depends(get_registry)]


@router.get("/api/models")
@router.get("/api/v1/models")
@router.get("/api/v1/models/")
async def list_models(user: VerifiedUser, registry: Registry, refresh: bool = False) -> Response:
    """Every model the caller may use: pipes, OpenAI-compatible, Ollama, then workspace models."""
    return Response(await registry.list_body(user, refresh), media_type="application/json")


@health_router.get("/health", response_model=ConnectionsHealth)
async def connections_health(_: AdminUser, state: StateDep) -> ConnectionsHealth:
    """Each model on each connection serving it: healthy or cooling down (and until when), its
    error rate, p50 latency and requests in flight. Keys are never shown."""
    return await state.get(HealthMonitor).report()
