"""Providers, models, chat and functions: the gateway itself.

The lifespan builds the model registry (connections, model-list cache, function
runtime) on `app.state.models` and the chat pipeline on `app.state.chat`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from wayline.chat import fastpath
from wayline.chat.router import router as chat_router
from wayline.chat.service import ChatService
from wayline.core.settings import Settings
from wayline.core.state import Core
from wayline.functions.router import router as functions_router
from wayline.functions.runtime import FunctionRuntime
from wayline.models.router import router as models_router
from wayline.providers.registry import ModelRegistry

routers = [chat_router, models_router, functions_router]


def install(app: FastAPI, settings: Settings) -> None:
    _front(app)


def _front(app: FastAPI) -> None:
    """The hot endpoints go in front of every route (see chat/fastpath.py for why); their
    paths are exact, so they shadow nothing. Done again at start-up, after every
    component's `install` (another may have put its own routes first)."""
    routes = app.router.routes
    routes[:] = [*fastpath.ROUTES, *(r for r in routes if r not in fastpath.ROUTES)]


@asynccontextmanager
async def lifespan(app: FastAPI, core: Core) -> AsyncIterator[None]:
    _front(app)
    registry = ModelRegistry(core, FunctionRuntime())
    app.state.models = registry
    app.state.chat = ChatService(core, registry)
    try:
        yield
    finally:
        await registry.close()
