"""Route aliases for older clients: `/images/api/v1/x` answers as `/api/v1/images/x`, etc.

An ASGI path rewrite rather than copied routes: it covers every route of the
aliased routers, including ones added later, and keeps each operation once in
the OpenAPI documents (duplicated operation ids would confuse clients). The
alias services' own `docs` and `openapi.json` are not rewritten.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from wayline.apidocs.service import ALIASES


class AliasMiddleware:
    def __init__(self, app: ASGIApp, aliases: dict[str, str] = ALIASES) -> None:
        self.app = app
        self.aliases = aliases

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            for alias, canonical in self.aliases.items():
                if path.startswith(alias + "/") and path not in (
                    f"{alias}/docs",
                    f"{alias}/openapi.json",
                ):
                    new_path = canonical + path[len(alias) :]
                    scope = {**scope, "path": new_path, "raw_path": new_path.encode()}
                    break
        await self.app(scope, receive, send)
