"""One error family, rendered once at the edge.

    WaylineError                 (status carried by the class, `detail` by the instance)
    ├── BadRequest               400
    ├── Unauthorized             401
    ├── Forbidden                403
    ├── NotFound                 404
    ├── Conflict                 409
    ├── PayloadTooLarge          413
    ├── UnsupportedMediaType     415
    ├── Unprocessable            422
    ├── TooManyRequests          429
    ├── ServiceUnavailable       503
    └── UpstreamError            (the upstream's own status)
        ├── UpstreamUnavailable  502  connect failure
        └── UpstreamTimeout      504

Services raise these; `install_error_handlers` turns them, FastAPI's validation
errors and Starlette's routing errors into `{"detail": ...}` JSON. Anything else
is a bug and answers 500 with a generic detail (and is logged).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("wayline.errors")

# Open WebUI's message constants (open_webui/constants.py), kept verbatim for wire compatibility.
NOT_FOUND = "We could not find what you're looking for :/"
ACCESS_PROHIBITED = (
    "You do not have permission to access this resource. "
    "Please contact your administrator for assistance."
)
UNAUTHORIZED = "401 Unauthorized"
NOT_AUTHENTICATED = "Not authenticated"
INVALID_TOKEN = "Your session has expired or the token is invalid. Please sign in again."
INVALID_CRED = (
    "The email or password provided is incorrect. Please check for typos and try logging in again."
)
EMAIL_TAKEN = "Uh-oh! This email is already registered. Sign in with your existing account or choose another email to start anew."
INVALID_EMAIL_FORMAT = "The email format you entered is invalid. Please double-check and make sure you're using a valid email address (e.g., yourname@example.com)."
API_KEY_NOT_ALLOWED = "Use of API key is not enabled in the environment."
API_KEY_CREATION_NOT_ALLOWED = "API key creation is not allowed in the environment."
API_KEY_NOT_FOUND = "Oops! It looks like there's a hiccup. The API key is missing. Please make sure to provide a valid API key to access this feature."
EMPTY_CONTENT = "The content provided is empty. Please ensure that there is text or data present before proceeding."
DUPLICATE_CONTENT = "Duplicate content detected. Please provide unique content to proceed."
FILE_NOT_PROCESSED = "Extracted content is not available for this file. Please ensure that the file is processed before proceeding."
SIGNUP_DISABLED = "Account creation is disabled. Please contact your administrator."


def model_not_found(name: str) -> str:
    return f"Model '{name}' was not found"


class WaylineError(Exception):
    status_code: int = 400
    default_detail: str = "Bad request"

    def __init__(self, detail: Any = None, *, headers: dict[str, str] | None = None) -> None:
        self.detail = self.default_detail if detail is None else detail
        self.headers = headers
        super().__init__(str(self.detail))


class BadRequest(WaylineError):
    status_code = 400


class Unauthorized(WaylineError):
    status_code = 401
    default_detail = NOT_AUTHENTICATED


class Forbidden(WaylineError):
    status_code = 403
    default_detail = ACCESS_PROHIBITED


class NotFound(WaylineError):
    status_code = 404
    default_detail = NOT_FOUND


class Conflict(WaylineError):
    status_code = 409
    default_detail = "Conflict"


class PayloadTooLarge(WaylineError):
    status_code = 413
    default_detail = "Payload too large"


class UnsupportedMediaType(WaylineError):
    status_code = 415
    default_detail = "Unsupported media type"


class Unprocessable(WaylineError):
    status_code = 422
    default_detail = "Unprocessable content"


class TooManyRequests(WaylineError):
    status_code = 429
    default_detail = "API rate limit exceeded"


class ServiceUnavailable(WaylineError):
    status_code = 503
    default_detail = "Service unavailable"


class UpstreamError(WaylineError):
    """An upstream answered with an error; we answer with its status and its message."""

    def __init__(self, status_code: int, detail: Any, *, headers: dict[str, str] | None = None) -> None:
        self.status_code = status_code
        super().__init__(detail, headers=headers)


class UpstreamUnavailable(UpstreamError):
    def __init__(self, detail: Any = "Upstream connection failed") -> None:
        super().__init__(502, detail)


class UpstreamTimeout(UpstreamError):
    def __init__(self, detail: Any = "Upstream timed out") -> None:
        super().__init__(504, detail)


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    # FastAPI's default list, minus `input`/`ctx` (they can echo large or binary bodies).
    return [
        {"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg")}
        for e in exc.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(WaylineError)
    async def _wayline(_: Request, exc: WaylineError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if exc.status_code == 404 and detail == "Not Found":
            detail = NOT_FOUND
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "Internal server error"}, status_code=500)
