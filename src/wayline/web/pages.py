"""Rendering a page: the Jinja2 environment and the headers every HTML answer carries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from wayline import __version__
from wayline.core.state import get_core
from wayline.users.schemas import UserInfo

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_URL = "/static"

# No inline script or style, no other host: an injected tag can neither run nor phone home.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages show a user's own data: never from a shared cache, nor from history after sign-out.
    "Cache-Control": "no-store",
}

# Autoescape on every template (not only .html by name): user-given names are shown everywhere.
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, auto_reload=False
    )
)
templates.env.globals.update(static=STATIC_URL, version=__version__)


def when(epoch: int | None, missing: str = "") -> str:
    """A Unix time as the pages show it (UTC, to the minute)."""
    if epoch is None:
        return missing
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def limits_text(limits: Any) -> str:
    """A key's own limits in a few words (`LimitsInfo`'s fields)."""
    parts = []
    if limits.rpm_limit:
        parts.append(f"{limits.rpm_limit} request{'s' if limits.rpm_limit != 1 else ''}/min")
    if limits.tpm_limit:
        parts.append(f"{limits.tpm_limit} token{'s' if limits.tpm_limit != 1 else ''}/min")
    if limits.max_parallel_requests:
        parts.append(f"{limits.max_parallel_requests} at once")
    if limits.token_budget:
        parts.append(f"{limits.token_budget} tokens per {limits.budget_duration or 'key'}")
    if limits.models:
        parts.append("models: " + ", ".join(limits.models))
    if limits.scopes:
        parts.append("scopes: " + ", ".join(limits.scopes))
    return "; ".join(parts) or "none of its own"


templates.env.filters.update(when=when, limits_text=limits_text)


def render(
    request: Request,
    name: str,
    user: UserInfo | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """`templates/<name>` with the signed-in `user` (or None), as a page with the CSP headers.

    Fragments (htmx swaps) go through here too: they carry the same headers."""
    settings = get_core(request).settings
    return templates.TemplateResponse(
        request,
        name,
        {"user": user, "site_name": settings.WEBUI_NAME, **context},
        status_code=status_code,
        headers=PAGE_HEADERS,
    )
