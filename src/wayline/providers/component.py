"""Providers: the model registry (connections, model-list cache, one provider per dialect)
and `GET /api/models`. The registry is also the models domain's `CATALOG`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from wayline.core.state import AppState
from wayline.models.catalog import CATALOG
from wayline.providers.dialects import Providers
from wayline.providers.registry import ModelRegistry
from wayline.providers.router import router

routers = [router]


@asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    registry = state.provide(ModelRegistry, ModelRegistry(state.core, Providers(state.core)))
    state.provide(CATALOG, registry)
    try:
        yield
    finally:
        await registry.close()
