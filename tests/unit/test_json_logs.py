"""Logs you can ship: the JSON formatter's fields, the text formatter's request id, the root
handler `configure_logging` installs, and uvicorn's loggers under JSON logs."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from starlette.types import Receive, Scope, Send

from wayline.core.logs import (
    JsonFormatter,
    TextFormatter,
    configure_logging,
    route_uvicorn_logs,
)
from wayline.core.request_id import RequestIdMiddleware, new_request_id, request_id

log = logging.getLogger("wayline.test")


def record(msg: str, *args: Any) -> logging.LogRecord:
    return log.makeRecord(log.name, logging.WARNING, __file__, 1, msg, args, None)


def test_a_line_outside_a_request() -> None:
    line = orjson.loads(JsonFormatter().format(record("hello %s", "world")))
    assert list(line) == ["time", "level", "logger", "message"]
    assert line["level"] == "WARNING" and line["logger"] == "wayline.test"
    assert line["message"] == "hello world"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    stamp = datetime.fromisoformat(line["time"])
    assert stamp.tzinfo == UTC and abs((datetime.now(UTC) - stamp).total_seconds()) < 60


def test_extras_and_exceptions_are_fields() -> None:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        exc_info = sys.exc_info()
    rec = log.makeRecord(
        log.name,
        logging.ERROR,
        __file__,
        1,
        "failed",
        (),
        exc_info,
        extra={"status": 502, "duration_ms": 1.5, "thing": object(), "huge": 2**70},
    )
    line = orjson.loads(JsonFormatter().format(rec))
    assert line["status"] == 502 and line["duration_ms"] == 1.5
    assert line["thing"].startswith("<object") and line["huge"] in (2**70, str(2**70))
    assert "ZeroDivisionError: division by zero" in line["exception"]
    assert line["exception"].startswith("Traceback")


class _Route:
    path = "/api/v1/files/{file_id}"


def in_request(scope: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> list[str]:
    """Log one record from inside an app behind the middleware; format it there and after."""
    formatted: list[str] = []
    json_formatter, text_formatter = JsonFormatter(), TextFormatter()

    async def app(inner: Scope, receive: Receive, send: Send) -> None:
        inner.update(scope)  # what routing and authentication add to the scope
        rec = record("inside")
        formatted.extend([json_formatter.format(rec), text_formatter.format(record("inside"))])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def run() -> None:
        async def receive() -> Any:
            return {"type": "http.request", "body": b""}

        async def send(message: Any) -> None:
            pass

        outer = {"type": "http", "method": "GET", "path": "/x/1", "headers": headers}
        await RequestIdMiddleware(app)(outer, receive, send)
        assert request_id() is None  # reset once the request is over

    asyncio.run(run())
    formatted.append(JsonFormatter().format(record("after")))
    return formatted


def test_a_line_inside_a_request_names_it() -> None:
    user = SimpleNamespace(user=SimpleNamespace(id="user-1"))
    inside, text, after = in_request(
        {"route": _Route(), "state": {"principal": user}}, [(b"x-request-id", b"req-9")]
    )
    line = orjson.loads(inside)
    assert line["request_id"] == "req-9" and line["user_id"] == "user-1"
    assert line["route"] == "/api/v1/files/{file_id}"
    assert " wayline.test [req-9]: inside" in text
    assert "request_id" not in orjson.loads(after)


def test_before_routing_and_sign_in_the_route_is_the_path() -> None:
    inside, text, _ = in_request({}, [])
    line = orjson.loads(inside)
    assert line["route"] == "/x/1" and "user_id" not in line
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
    assert f"[{line['request_id']}]" in text


def test_generated_ids_are_uuid4s() -> None:
    ids = {new_request_id() for _ in range(2000)}
    assert len(ids) == 2000
    for value in list(ids)[:50]:
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and parsed.hex == value


@contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger as a process starts: no handlers (pytest's own are put back after;
    they are added around the test's body, hence no fixture)."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    root.handlers.clear()
    try:
        yield root
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def settings(**values: str) -> Any:
    return SimpleNamespace(**{"LOG_FORMAT": "text", "LOG_LEVEL": "INFO", **values})


def test_configure_logging_replaces_basic_config() -> None:
    with bare_root() as root:
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        (basic,) = root.handlers
        configure_logging(settings(LOG_FORMAT="json", LOG_LEVEL="DEBUG"))
        (handler,) = root.handlers
        assert handler is not basic and isinstance(handler.formatter, JsonFormatter)
        assert root.level == logging.DEBUG
        configure_logging(settings())  # again: the format changes, no second handler
        assert root.handlers == [handler] and isinstance(handler.formatter, TextFormatter)


def test_configure_logging_writes_to_the_current_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with bare_root():
        configure_logging(settings(LOG_FORMAT="json"))
        logging.getLogger("wayline.test").info("shipped %d", 1)
    line = orjson.loads(capsys.readouterr().err)
    assert line["message"] == "shipped 1" and line["level"] == "INFO"


def test_configure_logging_leaves_someone_elses_setup_alone() -> None:
    with bare_root() as root:
        theirs = logging.NullHandler()
        root.addHandler(theirs)
        root.setLevel(logging.ERROR)
        configure_logging(settings(LOG_FORMAT="json"))
        assert root.handlers == [theirs] and root.level == logging.ERROR


@pytest.fixture
def uvicorn_loggers() -> Iterator[dict[str, logging.Logger]]:
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    loggers = {name: logging.getLogger(name) for name in names}
    saved = {
        name: (lg.handlers[:], lg.propagate, lg.disabled, lg.filters[:])
        for name, lg in loggers.items()
    }
    yield loggers
    for name, lg in loggers.items():
        lg.handlers[:], lg.propagate, lg.disabled, lg.filters[:] = saved[name]


def test_uvicorn_without_access_log(uvicorn_loggers: dict[str, logging.Logger]) -> None:
    # What uvicorn leaves with `access_log=False`; its other loggers have their own handler.
    uvicorn_loggers["uvicorn"].handlers[:] = [logging.StreamHandler()]
    uvicorn_loggers["uvicorn"].propagate = False
    access = uvicorn_loggers["uvicorn.access"]
    access.handlers[:], access.propagate = [], False
    assert route_uvicorn_logs() is False
    assert uvicorn_loggers["uvicorn"].handlers == [] and uvicorn_loggers["uvicorn"].propagate


def test_uvicorn_with_access_log_hands_it_over(uvicorn_loggers: dict[str, logging.Logger]) -> None:
    access = uvicorn_loggers["uvicorn.access"]
    access.handlers[:], access.propagate = [logging.StreamHandler()], False
    assert route_uvicorn_logs() is True
    assert access.handlers == [] and not access.isEnabledFor(logging.CRITICAL)
    assert route_uvicorn_logs() is True  # a second app in the same process
