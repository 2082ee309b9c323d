"""Documentation portals and route aliases, installed after every other router exists."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from wayline.apidocs.aliases import AliasMiddleware
from wayline.apidocs.router import ASSETS, build_router
from wayline.apidocs.service import add_bearer
from wayline.core.settings import Settings

routers: list = []


def install(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(AliasMiddleware)
    enabled = settings.docs_enabled
    router = build_router(app, enabled)
    count = len(app.router.routes)
    app.include_router(router)
    # Ahead of everything else, so catch-all routes (`/openai/{path}`) cannot shadow the pages.
    added = app.router.routes[count:]
    del app.router.routes[count:]
    app.router.routes[0:0] = added
    if enabled:
        import swagger_ui_bundle

        app.mount(
            ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger-ui"
        )
        default_openapi = app.openapi

        def openapi() -> dict:
            if app.openapi_schema is None:
                app.openapi_schema = add_bearer(default_openapi())
            return app.openapi_schema

        app.openapi = openapi  # type: ignore[method-assign]
