"""The hot endpoints as plain Starlette routes, declared in one table next to their twins.

Each fast route answers the same path and method as a FastAPI route (its twin, which stays
for the OpenAPI document) and is mounted in front of it, skipping FastAPI's per-request
dependency solving: py-spy showed that at about a quarter of the gateway's CPU per chat
request. They authenticate exactly as `VerifiedUser` does (same functions), and
`tests/api/test_fast_routes.py` checks that each one and its twin answer alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from wayline.auth.deps import current_principal, verified_user
from wayline.chat.service import ChatService
from wayline.core.state import get_state
from wayline.providers.registry import ModelRegistry
from wayline.users.schemas import UserInfo


async def _user(request: Request) -> UserInfo:
    return await verified_user(await current_principal(request))


async def chat_completions(request: Request) -> Response:
    user = await _user(request)
    chat = get_state(request).get(ChatService)
    return await chat.complete(request, user, await request.body())


async def embeddings(request: Request) -> Response:
    user = await _user(request)
    chat = get_state(request).get(ChatService)
    return await chat.embeddings(request, user, await request.body())


async def list_models(request: Request) -> Response:
    user = await _user(request)
    refresh = request.query_params.get("refresh", "").lower() in ("1", "true", "yes", "on")
    registry = get_state(request).get(ModelRegistry)
    return Response(await registry.list_body(user, refresh), media_type="application/json")


class _NamedRoute(Route):
    """Puts itself in the scope as `route`, as FastAPI's routes do (FastAPI's router does not for
    a plain Starlette route): the logs and the request metrics read the path template there."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        await super().handle(scope, receive, send)


@dataclass(frozen=True)
class FastRoute:
    path: str
    method: str
    endpoint: Callable[[Request], Awaitable[Response]]

    def route(self) -> Route:
        return _NamedRoute(self.path, self.endpoint, methods=[self.method])


FAST_ROUTES = (
    FastRoute("/api/chat/completions", "POST", chat_completions),
    FastRoute("/api/v1/chat/completions", "POST", chat_completions),
    FastRoute("/api/models", "GET", list_models),
    FastRoute("/api/v1/models", "GET", list_models),
    FastRoute("/api/embeddings", "POST", embeddings),
    FastRoute("/api/v1/embeddings", "POST", embeddings),
)


def twin_of(app: FastAPI, fast: FastRoute, contexts: list[Any] | None = None) -> APIRoute | None:
    """The FastAPI route a fast route stands in front of (FastAPI keeps included routers nested:
    `iter_route_contexts` yields each route with its full path; pass them in when asking for
    several fast routes, as walking them all is ~25 ms)."""
    for context in contexts if contexts is not None else iter_route_contexts(app.routes):
        route = context.original_route
        if (
            isinstance(route, APIRoute)
            and context.path == fast.path
            and fast.method in (context.methods or ())
        ):
            return route
    return None


def install(app: FastAPI) -> None:
    """Mount the fast routes in front of every route; each must have its FastAPI twin already."""
    contexts = list(iter_route_contexts(app.routes))
    missing = [f"{f.method} {f.path}" for f in FAST_ROUTES if twin_of(app, f, contexts) is None]
    if missing:
        raise RuntimeError(f"fast routes without a FastAPI twin: {', '.join(missing)}")
    app.router.routes[0:0] = [fast.route() for fast in FAST_ROUTES]
