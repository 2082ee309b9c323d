"""`/ollama/*`, `/openai/*` and `/api/v1/messages`: the provider APIs through Wayline.

The lifespan applies the admin-edited connections (`/openai/config/update`, `/ollama/config/update`)
to the providers' registry at start-up and whenever any worker changes them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from wayline.core.bus import RECONNECTED
from wayline.core.state import AppState
from wayline.providers.registry import ModelRegistry
from wayline.providers.routing import Router
from wayline.proxies.messages.router import router as messages_router
from wayline.proxies.models_router import router as models_router
from wayline.proxies.native import NativeRoutes
from wayline.proxies.ollama import config as ollama_config
from wayline.proxies.ollama.router import router as ollama_router
from wayline.proxies.openai import config as openai_config
from wayline.proxies.openai.router import router as openai_router
from wayline.proxies.upstreams import Upstreams

routers = [ollama_router, openai_router, messages_router, models_router]


@asynccontextmanager
async def lifespan(state: AppState) -> AsyncIterator[None]:
    core = state.core
    upstreams = Upstreams(state.get(ModelRegistry), state.find(Router))
    # Which connections lack `/responses` or `/v1/messages`, learnt per worker (`native.py`).
    state.provide(NativeRoutes, NativeRoutes())

    sections = {c.SECTION: c for c in (openai_config, ollama_config)}

    async def on_change(message: dict) -> None:
        # Subscribed after the runtime config's own handler, so its cache is already dropped.
        section = sections.get(message.get("section", ""))
        if section is not None:
            section.apply(core, upstreams, await section.load(core))

    async def on_reconnect(_: dict) -> None:  # changes may have been missed: read them all
        for section in sections.values():
            section.apply(core, upstreams, await section.load(core))

    core.bus.subscribe("runtime_config.changed", on_change)
    core.bus.subscribe(RECONNECTED, on_reconnect)
    for section in sections.values():
        section.apply(core, upstreams, await section.load(core))
    yield
