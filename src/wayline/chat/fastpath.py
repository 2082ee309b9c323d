"""Plain Starlette routes for the hot endpoints, mounted in front of every other route.

The FastAPI routes in `chat/router.py` and `models/router.py` stay for the OpenAPI
document; these answer the same paths first and skip FastAPI's per-request dependency
solving, which py-spy showed at about a quarter of the gateway's CPU per chat request.
They authenticate exactly as `VerifiedUser` does (same functions).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wayline.auth.deps import current_principal, verified_user


async def _user(request: Request):
    return await verified_user(await current_principal(request))


async def chat_completions(request: Request) -> Response:
    user = await _user(request)
    return await request.app.state.chat.complete(request, user, await request.body())


async def embeddings(request: Request) -> Response:
    user = await _user(request)
    return await request.app.state.chat.embeddings(user, await request.body())


async def list_models(request: Request) -> Response:
    user = await _user(request)
    refresh = request.query_params.get("refresh", "").lower() in ("1", "true", "yes", "on")
    return Response(
        await request.app.state.models.list_body(user, refresh), media_type="application/json"
    )


ROUTES = [
    Route("/api/chat/completions", chat_completions, methods=["POST"]),
    Route("/api/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/api/models", list_models, methods=["GET"]),
    Route("/api/v1/models", list_models, methods=["GET"]),
    Route("/api/embeddings", embeddings, methods=["POST"]),
    Route("/api/v1/embeddings", embeddings, methods=["POST"]),
]
