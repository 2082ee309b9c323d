"""The web UI's pages and static files, mounted after every API route (none is shadowed)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from wayline.core.settings import Settings
from wayline.web.pages import STATIC_DIR, STATIC_URL, render
from wayline.web.playground_router import router as playground_router
from wayline.web.router import router
from wayline.web.session import NotAllowed, SignInRequired, page_user, redirect

routers = [playground_router, router]  # the playground's `/` first


def install(app: FastAPI, settings: Settings) -> None:
    # Compressed on the way out (the chat page's scripts are 161 KB as files, 54 KB gzipped); the
    # API's responses are not touched, so streams are never buffered by a compressor.
    static = GZipMiddleware(StaticFiles(directory=STATIC_DIR), minimum_size=1024)
    app.mount(STATIC_URL, static, name="web-static")

    async def sign_in(request: Request, exc: Exception) -> Response:
        if request.headers.get("hx-request"):  # a fragment: the whole page goes, not the box
            return Response(headers={"HX-Redirect": "/auth"})
        return redirect("/auth")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        user = await page_user(request)
        return render(request, "forbidden.html", user, status_code=403)

    app.add_exception_handler(SignInRequired, sign_in)
    app.add_exception_handler(NotAllowed, not_allowed)
