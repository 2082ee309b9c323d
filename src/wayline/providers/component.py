"""Providers: the model registry (connections, model-list cache, one provider per dialect),
the router over each model's deployments with their health monitor, `GET /api/models` and
`GET /api/v1/connections/health`. The registry is also the models domain's `CATALOG`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from wayline.core.state import AppState
from wayline.models.catalog import CATALOG
from wayline.providers.cooldowns import CooldownBoard
from wayline.providers.deployments import Deployments
from wayline.providers.dialects import Providers
from wayline.providers.health import HealthMonitor
from wayline.providers.registry import ModelRegistry
from wayline.providers.router import health_router, router
from wayline.providers.routing import Router

routers = [router, health_router]


@asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    settings = state.core.settings
    registry = state.provide(ModelRegistry, ModelRegistry(state.core, Providers(state.core)))
    state.provide(CATALOG, registry)
    board = CooldownBoard(state.core.bus, settings.REDIS_URL, settings.REDIS_KEY_PREFIX)
    await board.sync()
    routing = state.provide(Router, Router(settings, registry, Deployments(), board))
    monitor = state.provide(HealthMonitor, HealthMonitor(settings, registry, routing))
    monitor.start()
    try:
        yield
    finally:
        await monitor.close()
        await registry.close()
        await board.close()
