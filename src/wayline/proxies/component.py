"""`/ollama/*` and `/openai/*`: the provider APIs through Wayline.

The lifespan applies the admin-edited OpenAI connections (`/openai/config/update`)
to the providers' registry at start-up and whenever any worker changes them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from wayline.core.state import Core
from wayline.proxies.ollama.router import router as ollama_router
from wayline.proxies.openai import config
from wayline.proxies.openai.router import router as openai_router
from wayline.proxies.upstreams import Upstreams

routers = [ollama_router, openai_router]


@asynccontextmanager
async def lifespan(app: FastAPI, core: Core) -> AsyncIterator[None]:
    upstreams = Upstreams(app.state.models)

    async def on_change(message: dict) -> None:
        # Subscribed after the runtime config's own handler, so its cache is already dropped.
        if message.get("section") == config.SECTION:
            config.apply(core, upstreams, await config.load(core))

    core.bus.subscribe("runtime_config.changed", on_change)
    config.apply(core, upstreams, await config.load(core))
    yield
