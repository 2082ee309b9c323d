"""The seven documentation services: which routes each one documents, and its OpenAPI document.

The seed lists seven portals (Main, WebUI, Ollama, OpenAI, Images, Audio, RAG),
each with its own Swagger page at `<base>/docs` and its document at
`<base>/openapi.json`. All routes live in one FastAPI app, so a service's document
is generated from the subset of the app's routes under its canonical prefix;
for the three aliased services (images, audio, retrieval) the paths are then
rewritten to the alias prefix the page lives under, so "Try it out" hits them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from wayline import __version__


@dataclass(frozen=True)
class DocService:
    name: str
    base: str  # where `/docs` and `/openapi.json` live ("" = the whole app)
    canonical: str  # the route prefix documented ("" = every route)
    alias: str | None = None  # path prefix that replaces `canonical` in the document

    @property
    def docs_path(self) -> str:
        return f"{self.base}/docs"

    @property
    def openapi_path(self) -> str:
        return f"{self.base}/openapi.json"

    def covers(self, path: str) -> bool:
        return not self.canonical or path == self.canonical or path.startswith(self.canonical + "/")


# Old clients reach these routers under the seed's per-service prefixes.
ALIASES: dict[str, str] = {
    "/images/api/v1": "/api/v1/images",
    "/audio/api/v1": "/api/v1/audio",
    "/retrieval/api/v1": "/api/v1/retrieval",
}

SERVICES: tuple[DocService, ...] = (
    DocService("Main", "", ""),
    DocService("WebUI", "/api/v1", "/api/v1"),
    DocService("Ollama", "/ollama", "/ollama"),
    DocService("OpenAI", "/openai", "/openai"),
    *(
        DocService(name, alias, canonical, alias)
        for name, (alias, canonical) in zip(
            ("Images", "Audio", "RAG"), ALIASES.items(), strict=True
        )
    ),
)

_BEARER = {"bearer": {"type": "http", "scheme": "bearer", "description": "JWT or `sk-` API key"}}


def add_bearer(document: dict[str, Any]) -> dict[str, Any]:
    """Declare the Bearer credential so Swagger's "Authorize" button works on every page."""
    document.setdefault("components", {}).setdefault("securitySchemes", {}).update(_BEARER)
    document.setdefault("security", [{"bearer": []}])
    return document


def build_document(app: FastAPI, service: DocService) -> dict[str, Any]:
    if not service.canonical:
        return app.openapi()
    # FastAPI keeps included routers nested; `iter_route_contexts` yields each route with its
    # full path.
    routes = [
        r
        for r in iter_route_contexts(app.routes)
        if isinstance(r.original_route, APIRoute)
        and r.include_in_schema
        and r.path
        and service.covers(r.path)
    ]
    document = get_openapi(
        title=f"Wayline — {service.name} API",
        version=__version__,
        description=(
            f"The {service.name} service of Wayline "
            f"(routes under `{service.alias or service.canonical}`)."
        ),
        routes=routes,
    )
    if service.alias:
        document["paths"] = {
            service.alias + path[len(service.canonical) :]: item
            for path, item in document.get("paths", {}).items()
        }
    return add_bearer(document)
