"""Logs: text (the default) or one JSON object per line (`LOG_FORMAT=json`), stdlib `logging`.

A JSON line holds `time` (ISO 8601, UTC, milliseconds), `level`, `logger`, `message`; during a
request also `request_id`, `user_id` (once authenticated) and `route` (the path template, else
the path); whatever the call passed as `extra=` (an access line's `status`, `duration_ms`,
`method`); and `exception` (the formatted traceback) when there is one. A text line names the
request id after the logger: `… INFO wayline.errors [3f2a…]: message`.

`configure_logging(settings)` puts one handler on the root logger, replacing the plain stream
handler `logging.basicConfig` makes. It leaves logging alone where someone else set it up (a
host application, pytest): then it changes nothing. Calling it again only updates the format.

`route_uvicorn_logs()` (JSON only) sends uvicorn's own lines through that handler, so every
line is JSON. uvicorn writes its access line when the response starts, without the route
template, the duration of a stream or the request id; when uvicorn was asked for one
(`wayline serve --access-log`), the request-id middleware writes it instead, once the answer
has ended. Without `--access-log` there is no line per request: a JSON line costs ~45 µs (record,
format, write; measured on 2 cores), ten times the middleware's own ~3 µs.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from wayline.core.request_id import request_id, request_scope, route_of, user_of

if TYPE_CHECKING:
    from wayline.core.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_TEXT_IN_REQUEST = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
_RECORD_FIELDS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName", "request_id", "color_message"}  # uvicorn's colours
)


def _utc(created: float) -> str:
    seconds = int(created)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{int((created - seconds) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        scope = request_scope()
        if scope is not None:
            out["request_id"] = request_id()
            user_id = user_of(scope)
            if user_id is not None:
                out["user_id"] = user_id
            out["route"] = route_of(scope)
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS:
                out[key] = value
        if record.exc_info:
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        try:
            return orjson.dumps(out, default=str).decode()
        except TypeError:  # orjson refuses e.g. integers beyond 64 bits
            return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`TEXT_FORMAT`, with the request id after the logger's name during a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._in_request = logging.Formatter(_TEXT_IN_REQUEST)

    def format(self, record: logging.LogRecord) -> str:
        rid = request_id()
        if rid is None:
            return super().format(record)
        record.request_id = rid
        return self._in_request.format(record)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time (a test runner may swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure_logging(settings: Settings) -> None:
    """The root logger's handler, level and format from `LOG_LEVEL` and `LOG_FORMAT`."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _StderrHandler)]
    if not ours:
        plain = [h for h in root.handlers if type(h) is logging.StreamHandler]  # basicConfig's
        if len(plain) != len(root.handlers):
            return  # set up by someone else: theirs to keep
        for handler in plain:
            root.removeHandler(handler)
        ours = [_StderrHandler()]
        root.addHandler(ours[0])
    formatter = JsonFormatter() if settings.LOG_FORMAT == "json" else TextFormatter()
    for handler in ours:
        handler.setFormatter(formatter)
    root.setLevel(settings.LOG_LEVEL)


class _Muted(logging.Filter):
    """On `uvicorn.access` once the gateway writes the access lines (also marks that it does)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


_MUTED = _Muted()


def route_uvicorn_logs() -> bool:
    """JSON logs: uvicorn's lines go to the root handler, and uvicorn's access line, when it has
    one, is left to the request-id middleware. Returns whether the middleware should write it.

    Called when the app is built, after uvicorn has set up its loggers: it leaves
    `uvicorn.access` without handlers and not propagating when its access log is off."""
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    if _MUTED in access.filters:
        return True
    if not access.handlers and not access.propagate:
        return False
    access.handlers.clear()
    access.propagate = False
    access.disabled = True
    access.addFilter(_MUTED)
    return True
