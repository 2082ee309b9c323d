"""The application factory: `create_app(settings)` builds everything, nothing happens at import.

Each domain package contributes a `component` module with `routers` (mounted in
order), an optional `install(app, settings)` for what must be set on the app itself, and an
optional `lifespan(state)` context that builds the domain's services into the `AppState`
(`core/state.py`) and tears them down. Components start in the order of `COMPONENTS`, so a
component finds the services of those before it. Adding a domain is one line there.
"""

from __future__ import annotations

import gc
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from types import ModuleType

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from wayline import __version__
from wayline.chat import fastpath
from wayline.core.bus import create_bus
from wayline.core.db import Database, wait_for
from wayline.core.errors import install_error_handlers
from wayline.core.http import UpstreamClient
from wayline.core.limits import BodyLimitMiddleware
from wayline.core.logs import configure_logging, route_uvicorn_logs
from wayline.core.metrics import forget_this_process
from wayline.core.request_id import RequestIdMiddleware
from wayline.core.request_metrics import RequestMetricsMiddleware
from wayline.core.runtime_config import RuntimeConfig
from wayline.core.settings import Settings
from wayline.core.state import AppState, Core

log = logging.getLogger("wayline")

COMPONENTS = (
    "wayline.system.component",
    # The usage hub: before every domain that calls models, and before auth (whose per-key
    # limits observe it, to settle the tokens they reserved).
    "wayline.usage.component",
    "wayline.auth.component",
    "wayline.functions.component",
    "wayline.models.component",
    "wayline.providers.component",
    "wayline.files.component",
    "wayline.knowledge.component",
    "wayline.retrieval.component",
    "wayline.chat.component",
    "wayline.proxies.component",
    "wayline.media.component",
    "wayline.configs.component",
    "wayline.apidocs.component",
    # The web pages last: every API route is matched before them.
    "wayline.web.component",
)


def _components() -> list[ModuleType]:
    return [importlib.import_module(name) for name in COMPONENTS]


@asynccontextmanager
async def _run(
    app: FastAPI, settings: Settings, components: list[ModuleType]
) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        stack.callback(forget_this_process)  # last out: this worker's live gauges leave the sum
        db = Database(settings)
        stack.push_async_callback(db.dispose)
        await wait_for(db)
        await db.migrate()

        bus = create_bus(settings.REDIS_URL, settings.REDIS_KEY_PREFIX)
        await bus.start()
        stack.push_async_callback(bus.close)

        http = UpstreamClient(
            timeout=settings.AIOHTTP_CLIENT_TIMEOUT,
            connect_timeout=settings.UPSTREAM_CONNECT_TIMEOUT,
        )
        await http.start()
        stack.push_async_callback(http.close)

        core = Core(
            settings=settings, db=db, bus=bus, http=http, runtime_config=RuntimeConfig(db, bus)
        )
        state = AppState(core)
        app.state.wayline = state
        for component in components:
            lifespan = getattr(component, "lifespan", None)
            if lifespan is not None:
                await stack.enter_async_context(lifespan(state))
        # Start-up objects live for the process: freezing them keeps full collections from
        # rescanning them (each took ~150 ms here and stalled every in-flight request).
        gc.freeze()
        log.info("wayline %s ready on %s", __version__, settings.database_url.split("@")[-1])
        yield


class Wayline(FastAPI):
    """FastAPI with the request-id middleware outermost, then the request metrics: outside
    Starlette's error middleware, so a 500 also carries `X-Request-ID` and is counted
    (`add_middleware` can only go inside it)."""

    request_id_access_log = False

    def build_middleware_stack(self) -> ASGIApp:
        return RequestIdMiddleware(
            RequestMetricsMiddleware(super().build_middleware_stack()),
            access_log=self.request_id_access_log,
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    # Here, not only in the CLI: each uvicorn worker builds its app after uvicorn has set up its
    # own loggers (which JSON logs take over), and a spawned worker starts with none of ours.
    configure_logging(settings)
    components = _components()
    app = Wayline(
        title="Wayline",
        version=__version__,
        lifespan=lambda app: _run(app, settings, components),
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    if settings.LOG_FORMAT == "json":
        app.request_id_access_log = route_uvicorn_logs()
    install_error_handlers(app)
    # RequestIdMiddleware (X-Request-ID) wraps everything: see `Wayline` above.
    app.add_middleware(
        BodyLimitMiddleware,
        max_body=settings.MAX_REQUEST_BODY_SIZE,
        max_large_body=settings.MAX_CHAT_BODY_SIZE,
        max_depth=settings.MAX_JSON_DEPTH,
    )
    origins = settings.cors_origins or ["*"]
    # Credentials (cookies) only for origins named explicitly: with "*", Starlette would
    # reflect any caller's origin with credentials, letting every site act as the user.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_credentials="*" not in origins,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    for component in components:
        for router in getattr(component, "routers", ()):
            app.include_router(router)
        install = getattr(component, "install", None)
        if install is not None:
            install(app, settings)
    # Last, so they stand in front of every route (the docs' included router too: matching a
    # chat request against it first cost ~3% of the gateway's CPU).
    fastpath.install(app)
    return app
