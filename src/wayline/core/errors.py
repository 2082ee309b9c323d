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
errors and Starlette's routing errors into `{"detail": ...}` JSON (`error_response`).
On the OpenAI-compatible routes the same body also carries OpenAI's
`{"error": {"message", "type", "code", "param"}}` and the `request_id` (the `X-Request-ID`
header carries it on every route; Open WebUI's bodies keep their one key); answers an
immediate retry cannot fix carry `x-should-retry: false`; credentials inside URLs are
redacted from every detail. Anything else is a bug and answers 500 with a generic detail
(and is logged).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from wayline.core.request_id import request_id

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
EMAIL_TAKEN = (
    "Uh-oh! This email is already registered. Sign in with your existing account or "
    "choose another email to start anew."
)
INVALID_EMAIL_FORMAT = (
    "The email format you entered is invalid. Please double-check and make sure you're "
    "using a valid email address (e.g., yourname@example.com)."
)
API_KEY_NOT_ALLOWED = "Use of API key is not enabled in the environment."
API_KEY_CREATION_NOT_ALLOWED = "API key creation is not allowed in the environment."
API_KEY_NOT_FOUND = (
    "Oops! It looks like there's a hiccup. The API key is missing. Please make sure to "
    "provide a valid API key to access this feature."
)
EMPTY_CONTENT = (
    "The content provided is empty. Please ensure that there is text or data present "
    "before proceeding."
)
DUPLICATE_CONTENT = "Duplicate content detected. Please provide unique content to proceed."
FILE_NOT_PROCESSED = (
    "Extracted content is not available for this file. Please ensure that the file is "
    "processed before proceeding."
)
SIGNUP_DISABLED = "Account creation is disabled. Please contact your administrator."


class CodedText(str):
    """A detail string that names its OpenAI error `code`, so a call site written as
    `NotFound(model_not_found(x))` reports `model_not_found` without knowing about codes."""

    code: str

    def __new__(cls, text: str, code: str) -> CodedText:
        self = super().__new__(cls, text)
        self.code = code
        return self


def model_not_found(name: str) -> str:
    return CodedText(f"Model '{name}' was not found", "model_not_found")


class WaylineError(Exception):
    status_code: int = 400
    default_detail: str = "Bad request"
    code: str | None = None  # OpenAI's `error.code`; None = derived from the status when rendered
    error_type: str | None = None  # OpenAI's `error.type`; None = derived from the status
    # OpenAI's `error` object on every route, not only on OpenAI's: a refusal any client of the
    # key must understand wherever it called (a rate limit on `/ollama/api/chat` too).
    openai_body: bool = False

    def __init__(
        self,
        detail: Any = None,
        *,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        self.detail = self.default_detail if detail is None else detail
        self.headers = headers
        self.code = code or getattr(self.detail, "code", None) or type(self).code
        self.param = param
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
    code = "rate_limit_exceeded"


class ServiceUnavailable(WaylineError):
    status_code = 503
    default_detail = "Service unavailable"


class UpstreamError(WaylineError):
    """An upstream answered with an error; we answer with its status and its message (and,
    when the upstream spoke OpenAI's error shape, its `type`, `code` and `param`)."""

    def __init__(
        self,
        status_code: int,
        detail: Any,
        *,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        error_type: str | None = None,
        param: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.error_type = error_type
        super().__init__(detail, headers=headers, code=code, param=param)


class UpstreamUnavailable(UpstreamError):
    def __init__(self, detail: Any = "Upstream connection failed") -> None:
        super().__init__(502, detail)


class UpstreamTimeout(UpstreamError):
    def __init__(self, detail: Any = "Upstream timed out") -> None:
        super().__init__(504, detail)


# --- rendering -----------------------------------------------------------------------------

# Routes OpenAI clients call: their errors carry OpenAI's `error` object beside Open WebUI's
# `detail`, so an OpenAI SDK exposes `.code` / `.type` / `.param`.
OPENAI_PATHS = frozenset(
    {
        "/api/chat/completions",
        "/api/v1/chat/completions",
        "/api/embeddings",
        "/api/v1/embeddings",
        "/api/models",
        "/api/v1/models",
    }
)
OPENAI_PREFIXES = ("/openai/", "/ollama/v1/")

# `scheme://user:password@` inside any text: the credentials part is what must never be shown.
# Greedy up to the last `@` before the path, as URL parsers read it (a password may hold `@`).
_URL_CREDENTIALS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s]*@")


def redact(value: Any) -> Any:
    """`value` with every URL's `user:password@` replaced by `***@` (strings, lists, dicts)."""
    if isinstance(value, str):
        return _URL_CREDENTIALS.sub(r"\1***@", value) if "@" in value else value
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    return value


def speaks_openai(path: str) -> bool:
    return path in OPENAI_PATHS or path.startswith(OPENAI_PREFIXES)


def _message(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    if (
        isinstance(detail, list)
        and detail
        and all(isinstance(e, dict) and "msg" in e for e in detail)
    ):
        return "; ".join(f"{_param(e.get('loc', [])) or 'body'}: {e['msg']}" for e in detail)
    return json.dumps(detail, default=str)


_LOCATIONS = ("body", "query", "path", "header", "cookie")  # where FastAPI found it, not the name


def _param(loc: list[Any]) -> str | None:
    """FastAPI's `["body", "messages", 0, "content"]` as OpenAI writes it: `messages[0].content`."""
    out = ""
    for part in loc[1:] if loc[:1] and loc[0] in _LOCATIONS else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def openai_error(
    status: int,
    detail: Any,
    *,
    code: str | None = None,
    param: str | None = None,
    error_type: str | None = None,
) -> dict[str, Any]:
    """OpenAI's error object, following OpenAI's own conventions: client errors are
    `invalid_request_error`, 429 is `requests` / `rate_limit_exceeded`, 5xx `server_error`."""
    if code is None:
        if detail == ACCESS_PROHIBITED:
            code = "insufficient_permissions"
        elif status == 401:
            code = "invalid_api_key"
        elif status == 429:
            code = "rate_limit_exceeded"
    default_type = (
        "server_error"
        if status >= 500
        else "requests"
        if status == 429
        else "invalid_request_error"
    )
    return {
        "message": _message(detail),
        "type": error_type or default_type,
        "code": code,
        "param": param,
    }


def _retry_can_fix(status: int, upstream: bool) -> bool:
    # OpenAI SDKs retry 408, 409, 429 and 5xx on their own. Our 4xx (a conflict included: the file
    # is still processing after we already waited) do not change on an immediate retry; an
    # upstream's 409 keeps its own meaning (OpenAI's lock timeout is worth a retry).
    return not (400 <= status < 500) or status in (408, 429) or (upstream and status == 409)


def error_response(
    path: str,
    status: int,
    detail: Any,
    *,
    headers: dict[str, str] | None = None,
    code: str | None = None,
    param: str | None = None,
    error_type: str | None = None,
    upstream: bool = False,
    openai_body: bool = False,
) -> JSONResponse:
    """The one error body: `{"detail"}` everywhere, plus OpenAI's `{"error"}` on OpenAI routes
    (and on every route with `openai_body`). Usable from ASGI middleware too (a Response is an
    ASGI app)."""
    detail = redact(detail)
    body: dict[str, Any] = {"detail": detail}
    if openai_body or speaks_openai(path):
        body["error"] = openai_error(status, detail, code=code, param=param, error_type=error_type)
        rid = request_id()
        if rid is not None:
            body["request_id"] = rid
    out = dict(headers or {})
    if not _retry_can_fix(status, upstream) and not any(k.lower() == "x-should-retry" for k in out):
        out["x-should-retry"] = "false"
    return JSONResponse(body, status_code=status, headers=out or None)


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    # FastAPI's default list, minus `input`/`ctx` (they can echo large or binary bodies).
    return [
        {"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg")}
        for e in exc.errors()
    ]


def _validation_code(error_type: str) -> str:
    if error_type == "missing":
        return "missing_required_parameter"
    return "invalid_type" if error_type.endswith(("_type", "_parsing")) else "invalid_value"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(WaylineError)
    async def _wayline(request: Request, exc: WaylineError) -> JSONResponse:
        upstream = exc if isinstance(exc, UpstreamError) else None
        return error_response(
            request.url.path,
            exc.status_code,
            exc.detail,
            headers=exc.headers,
            code=exc.code,
            param=exc.param,
            error_type=exc.error_type,
            upstream=upstream is not None,
            openai_body=exc.openai_body,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = _validation_detail(exc)
        first: dict[str, Any] = detail[0] if detail else {"type": "", "loc": []}
        return error_response(
            request.url.path,
            422,
            detail,
            code=_validation_code(str(first["type"] or "")),
            param=_param(first["loc"]),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if exc.status_code == 404 and detail == "Not Found":
            detail = NOT_FOUND
        return error_response(
            request.url.path, exc.status_code, detail, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request.url.path, 500, "Internal server error")
