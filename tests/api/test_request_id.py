"""X-Request-ID: accepted or generated, echoed on every answer (errors, 500s, streams), in
OpenAI-shaped error bodies, carried to the upstream, and in the JSON logs and access lines."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from tests.conftest import Account, signup
from tests.fakes.upstream import FakeUpstream
from wayline.app import create_app
from wayline.core.logs import JsonFormatter
from wayline.core.request_id import RequestIdMiddleware
from wayline.core.settings import Settings

GENERATED = re.compile(r"[0-9a-f]{32}")
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Why is the sky blue?"}]}


def generated(value: str | None) -> bool:
    return value is not None and bool(GENERATED.fullmatch(value)) and uuid.UUID(value).version == 4


def test_a_request_without_an_id_gets_a_new_one(client: TestClient) -> None:
    first, second = client.get("/ready"), client.get("/ready")
    assert generated(first.headers["x-request-id"]) and generated(second.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("rid", ["abc", "req_01HZ:edge-7.retry", "A" * 128, "0"])
def test_a_well_formed_client_id_is_kept(client: TestClient, rid: str) -> None:
    resp = client.get("/ready", headers={"X-Request-ID": rid})
    assert resp.headers.get_list("x-request-id") == [rid]


@pytest.mark.parametrize("rid", ["", "A" * 129, "two words", "a/b", "semi;colon", 'quote"d'])
def test_a_malformed_client_id_is_replaced(client: TestClient, rid: str) -> None:
    resp = client.get("/ready", headers={"X-Request-ID": rid})
    assert generated(resp.headers["x-request-id"])


def test_open_webui_errors_keep_their_shape_and_carry_the_header(
    client: TestClient, alice: Account
) -> None:
    resp = client.get("/api/v1/files/no-such-file", headers={**alice.headers, "X-Request-ID": "r1"})
    assert resp.status_code == 404 and set(resp.json()) == {"detail"}
    assert resp.headers["x-request-id"] == "r1"
    resp = client.get("/no/such/route")
    assert resp.status_code == 404 and generated(resp.headers["x-request-id"])


def test_openai_errors_carry_the_id_in_the_body_too(client: TestClient, alice: Account) -> None:
    resp = client.post(
        "/api/chat/completions",
        json={**CHAT, "model": "no-such-model"},
        headers={**alice.headers, "X-Request-ID": "trace-404"},
    )
    assert resp.status_code == 404
    body = resp.json()
    assert body["request_id"] == "trace-404" == resp.headers["x-request-id"]
    assert body["error"]["code"] == "model_not_found" and "detail" in body

    unauthenticated = client.post("/api/chat/completions", json=CHAT)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["request_id"] == unauthenticated.headers["x-request-id"]


def test_refusals_at_the_edge_carry_it(client: TestClient) -> None:
    too_big = client.post(
        "/api/v1/auths/signin",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json", "X-Request-ID": "big-1"},
    )
    assert too_big.status_code == 413 and too_big.headers["x-request-id"] == "big-1"
    preflight = client.options(
        "/api/chat/completions",
        headers={"Origin": "https://a.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200 and generated(preflight.headers["x-request-id"])


def test_an_unhandled_error_answers_500_with_the_id(settings: Settings) -> None:
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.router.add_api_route("/openai/boom", boom)
    app.router.routes.insert(0, app.router.routes.pop())  # ahead of the proxy's catch-all
    with TestClient(app, raise_server_exceptions=False) as client:
        resp = client.get("/openai/boom", headers={"X-Request-ID": "bug-1"})
    assert resp.status_code == 500 and resp.headers["x-request-id"] == "bug-1"
    assert resp.json()["request_id"] == "bug-1"


def test_streams_and_upstream_calls_carry_it(
    gateway: TestClient, fake_upstream: FakeUpstream
) -> None:
    admin = signup(gateway, "Admin")
    with gateway.stream(
        "POST",
        "/api/chat/completions",
        json={**CHAT, "stream": True},
        headers={**admin.headers, "X-Request-ID": "stream-7"},
    ) as resp:
        assert resp.status_code == 200 and resp.headers["x-request-id"] == "stream-7"
        assert "".join(resp.iter_text()).rstrip().endswith("data: [DONE]")
    upstream = fake_upstream.last("/v1/chat/completions").headers
    assert {k.lower(): v for k, v in upstream.items()}["x-request-id"] == "stream-7"

    # A malformed id from the client is not forwarded: the upstream gets ours.
    resp = gateway.post(
        "/api/chat/completions", json=CHAT, headers={**admin.headers, "x-request-id": "a b"}
    )
    upstream = fake_upstream.last("/v1/chat/completions").headers
    sent = [v for k, v in upstream.items() if k.lower() == "x-request-id"]
    assert resp.status_code == 200 and sent == [resp.headers["x-request-id"]]
    assert generated(sent[0])


async def _relaying_app(scope: Scope, receive: Receive, send: Send) -> None:
    """An answer that already has an X-Request-ID (the proxies relay the upstream's)."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"x-request-id", b"req_upstream")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


def test_an_upstream_id_in_the_answer_moves_aside() -> None:
    resp = TestClient(RequestIdMiddleware(_relaying_app)).get("/", headers={"X-Request-ID": "ours"})
    assert resp.headers.get_list("x-request-id") == ["ours"]
    assert resp.headers["x-upstream-request-id"] == "req_upstream"


class _Lines(logging.Handler):
    """Formats each record as it is emitted (inside the request's context), as a server would."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(orjson.loads(self.format(record)))


@pytest.fixture
def json_lines() -> Iterator[_Lines]:
    handler = _Lines()
    wayline, access = logging.getLogger("wayline"), logging.getLogger("wayline.access")
    uvicorn_access = logging.getLogger("uvicorn.access")
    saved = (access.level, uvicorn_access.disabled, list(uvicorn_access.filters))
    saved_propagate = uvicorn_access.propagate
    wayline.addHandler(handler)
    access.setLevel(logging.INFO)
    yield handler
    wayline.removeHandler(handler)
    access.setLevel(saved[0])
    uvicorn_access.disabled, uvicorn_access.filters = saved[1], saved[2]
    uvicorn_access.propagate = saved_propagate


def test_json_logs_write_one_access_line_per_request(
    make_client: Callable[[Settings], TestClient],
    make_settings: Callable[..., Settings],
    json_lines: _Lines,
) -> None:
    client = make_client(make_settings(LOG_FORMAT="json"))
    admin = signup(client, "Admin")
    json_lines.lines.clear()
    resp = client.get("/api/v1/files/nope", headers={**admin.headers, "X-Request-ID": "acc-1"})
    assert resp.status_code == 404
    (line,) = [x for x in json_lines.lines if x["logger"] == "wayline.access"]
    assert line["request_id"] == "acc-1" and line["user_id"] == admin.id
    assert line["route"] == "/api/v1/files/{file_id}" and line["status"] == 404
    assert line["method"] == "GET" and 0 < line["duration_ms"] < 10_000
    assert line["level"] == "INFO" and line["message"].startswith("GET /api/v1/files/{file_id} 404")


def test_text_logs_write_no_access_line(client: TestClient, json_lines: _Lines) -> None:
    client.get("/ready")
    assert [x for x in json_lines.lines if x["logger"] == "wayline.access"] == []


# --- cost --------------------------------------------------------------------------------


async def _bare(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"a", b"b")] * 5})
    await send({"type": "http.response.body", "body": b"x"})


def _per_request(app: Any, n: int) -> float:
    headers = [(b"host", b"gw"), (b"user-agent", b"x"), (b"accept", b"*/*")] * 3
    scope = {"type": "http", "method": "POST", "path": "/api/chat/completions", "headers": headers}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    async def run() -> float:
        started = time.perf_counter()
        for _ in range(n):
            await app(dict(scope), receive, send)
        return (time.perf_counter() - started) / n

    return asyncio.run(run())


def test_middleware_cost() -> None:
    """The middleware's own cost per request (no server, no routing): the README's figure.
    The bound is loose (shared CI machines); the number is printed for the record."""
    n = 20_000
    bare = min(_per_request(_bare, n) for _ in range(5))
    wrapped = min(_per_request(RequestIdMiddleware(_bare), n) for _ in range(5))
    cost_us = (wrapped - bare) * 1e6
    print(f"RequestIdMiddleware: {cost_us:.2f} µs per request ({bare * 1e6:.2f} µs bare)")
    assert cost_us < 25
