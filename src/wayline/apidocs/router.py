"""The Swagger pages and per-service OpenAPI documents (only with `ENV=dev`; JSON 404 otherwise).

Swagger UI's assets are served from the installed `swagger-ui-bundle-v2` package
at `/static/swagger-ui/`, so the pages work offline.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from wayline.apidocs.service import SERVICES, DocService, build_document
from wayline.core import errors

ASSETS = "/static/swagger-ui"


def build_router(app: FastAPI, enabled: bool) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cache: dict[str, dict[str, Any]] = {}

    def add(service: DocService) -> None:
        async def page(request: Request) -> HTMLResponse:
            if not enabled:
                raise errors.NotFound()
            return get_swagger_ui_html(
                openapi_url=service.openapi_path,
                title=f"Wayline — {service.name} API",
                swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
                swagger_ui_parameters={"persistAuthorization": True},
            )

        async def document(request: Request) -> JSONResponse:
            if not enabled:
                raise errors.NotFound()
            if service.name not in cache:  # routes are fixed once the app is built
                cache[service.name] = build_document(app, service)
            return JSONResponse(cache[service.name])

        router.add_api_route(
            service.docs_path, page, methods=["GET"], name=f"docs_{service.name.lower()}"
        )
        if (
            service.base or not enabled
        ):  # FastAPI serves the main `/openapi.json` itself when enabled
            router.add_api_route(
                service.openapi_path,
                document,
                methods=["GET"],
                name=f"openapi_{service.name.lower()}",
            )

    for service in SERVICES:
        add(service)
    return router
