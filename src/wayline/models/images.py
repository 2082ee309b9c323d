"""A model's profile image as Open WebUI serves it (`GET /api/v1/models/model/profile/image`):
an inline `data:` image is decoded and served, an http(s) URL or a `/static/...` path is a
redirect. Wayline ships no default picture, so a model without one (or one the caller may not
read) is 404 rather than Open WebUI's redirect to its own logo."""

from __future__ import annotations

import base64
import binascii
import posixpath
from urllib.parse import unquote

from starlette.responses import RedirectResponse, Response

from wayline.core import errors

# Raster types only: an inline SVG could run script on Wayline's origin.
ALLOWED_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def _static_path(url: str) -> str | None:
    path = unquote(url.split("?", 1)[0].split("#", 1)[0]).strip()
    if "\\" in path or "\x00" in path or not path.startswith("/static/"):
        return None
    normal = posixpath.normpath(path)
    return normal if normal.startswith("/static/") else None


def profile_image_response(model_id: str, url: str | None) -> Response:
    if url and url.startswith(("http://", "https://")):
        return RedirectResponse(url, status_code=302)
    if url and url.startswith("data:image"):
        header, _, payload = url.partition(",")
        media_type = header.split(";")[0][len("data:") :].lower()
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if media_type in ALLOWED_TYPES and data:
            return Response(
                data,
                media_type=media_type,
                headers={"Content-Disposition": "inline", "X-Content-Type-Options": "nosniff"},
            )
    static = _static_path(url) if url else None
    if static is not None:
        return RedirectResponse(static, status_code=302)
    raise errors.NotFound(f"Model '{model_id}' has no profile image")
