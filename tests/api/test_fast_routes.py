"""Each fast route (chat/fastpath.py) and its FastAPI twin answer alike.

The fast routes stand in front of FastAPI routes that stay for the OpenAPI document. If the two
drifted apart, the document would describe an API the server does not serve. Every request
below is sent once through the fast route and once with the fast routes taken out of the app
(so its twin answers), and the answers must agree: status, content type, error detail, and
the shape of the body.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route

from tests.conftest import Account, signup
from tests.fakes.sse import events
from wayline.chat import fastpath
from wayline.core.settings import Settings

CHAT = {"model": "gpt-4-turbo", "messages": [{"role": "user", "content": "Hello"}]}
OLLAMA_CHAT = {**CHAT, "model": "llama3.1"}
EMBED = {"model": "text-embedding-3-small", "input": ["a", "b"]}


@pytest.fixture
def settings(gateway_settings: Settings) -> Settings:
    return gateway_settings


def _is_fast(route: Any) -> bool:
    endpoints = {fast.endpoint for fast in fastpath.FAST_ROUTES}
    return isinstance(route, Route) and route.endpoint in endpoints  # twins: endpoints of their own


@contextmanager
def twins_only(client: TestClient) -> Iterator[None]:
    routes = client.app.router.routes
    saved = list(routes)
    routes[:] = [r for r in routes if not _is_fast(r)]
    try:
        yield
    finally:
        routes[:] = saved


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and types, not the values (ids and times differ)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k not in ("created",)}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def both(client: TestClient, method: str, path: str, **kwargs: Any) -> tuple[Any, Any]:
    # One request id for both, so error bodies (which carry it) can be compared whole.
    kwargs["headers"] = {**kwargs.get("headers", {}), "X-Request-ID": "fast-or-twin"}
    fast = client.request(method, path, **kwargs)
    with twins_only(client):
        twin = client.request(method, path, **kwargs)
    return fast, twin


def test_every_fast_route_has_a_twin_in_the_openapi_document(client: TestClient) -> None:
    app = client.app
    for fast in fastpath.FAST_ROUTES:
        twin = fastpath.twin_of(app, fast)
        assert twin is not None, fast.path
        assert twin.include_in_schema, fast.path
    assert sum(_is_fast(r) for r in app.router.routes) == len(fastpath.FAST_ROUTES)
    # In front of every route (an included router matched first costs every request its scan).
    assert all(_is_fast(r) for r in app.router.routes[: len(fastpath.FAST_ROUTES)])
    # So the first route matching each fast path is the fast one.
    for fast in fastpath.FAST_ROUTES:
        first = next(
            r for r in app.router.routes if getattr(r, "path", None) == fast.path or _is_fast(r)
        )
        assert _is_fast(first)


def test_the_twins_are_really_reached(
    client: TestClient, admin: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fast route that failed makes the comparison fail: so `both` really asks each side.
    async def broken(request: Any) -> Any:
        raise RuntimeError("the fast route answered")

    for route in client.app.router.routes:
        if _is_fast(route) and route.path == "/api/models":
            monkeypatch.setattr(route, "app", broken)
    fast, twin = both(client, "GET", "/api/models", headers=admin.headers)
    assert fast.status_code == 500
    assert twin.status_code == 200


@pytest.mark.parametrize("path", ["/api/models", "/api/v1/models"])
def test_model_list(client: TestClient, admin: Account, path: str) -> None:
    fast, twin = both(client, "GET", path, headers=admin.headers)
    assert fast.status_code == twin.status_code == 200
    assert fast.headers["content-type"] == twin.headers["content-type"]
    assert [m["id"] for m in fast.json()["data"]] == [m["id"] for m in twin.json()["data"]]
    refreshed, twin_refreshed = both(client, "GET", path + "?refresh=true", headers=admin.headers)
    assert refreshed.json() == twin_refreshed.json()


@pytest.mark.parametrize("path", ["/api/chat/completions", "/api/v1/chat/completions"])
@pytest.mark.parametrize("body", [CHAT, OLLAMA_CHAT], ids=["openai", "ollama"])
def test_chat(client: TestClient, admin: Account, path: str, body: dict[str, Any]) -> None:
    fast, twin = both(client, "POST", path, headers=admin.headers, json=body)
    assert fast.status_code == twin.status_code == 200
    assert shape(fast.json()) == shape(twin.json())
    fast, twin = both(client, "POST", path, headers=admin.headers, json={**body, "stream": True})
    assert fast.status_code == twin.status_code == 200
    assert fast.headers["content-type"] == twin.headers["content-type"]
    assert [shape(e) for e in events(fast.text)] == [shape(e) for e in events(twin.text)]


@pytest.mark.parametrize("path", ["/api/embeddings", "/api/v1/embeddings"])
def test_embeddings(client: TestClient, admin: Account, path: str) -> None:
    fast, twin = both(client, "POST", path, headers=admin.headers, json=EMBED)
    assert fast.status_code == twin.status_code == 200
    assert fast.json() == twin.json()


@pytest.mark.parametrize(
    "method, path, kwargs",
    [
        ("POST", "/api/chat/completions", {"content": b"{not json"}),
        ("POST", "/api/chat/completions", {"json": ["a list"]}),
        ("POST", "/api/chat/completions", {"json": {"messages": []}}),
        ("POST", "/api/chat/completions", {"json": {**CHAT, "model": "no-such-model"}}),
        ("POST", "/api/chat/completions", {"json": {**CHAT, "messages": "hi"}}),
        ("POST", "/api/embeddings", {"json": {**EMBED, "input": []}}),
        ("POST", "/api/embeddings", {"json": {**EMBED, "model": "no-such-model"}}),
    ],
)
def test_refusals_agree(
    client: TestClient, admin: Account, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    fast, twin = both(client, method, path, headers=admin.headers, **kwargs)
    assert 400 <= fast.status_code < 500
    assert fast.status_code == twin.status_code
    assert fast.json() == twin.json()


@pytest.mark.parametrize("path", [f.path for f in fastpath.FAST_ROUTES])
def test_callers_are_checked_alike(client: TestClient, admin: Account, path: str) -> None:
    method = next(f.method for f in fastpath.FAST_ROUTES if f.path == path)
    pending = signup(client, "Pending")  # the admin exists, so this one waits for approval
    for headers in ({}, {"Authorization": "Bearer sk-not-a-key"}, pending.jwt_headers):
        fast, twin = both(client, method, path, headers=headers, json=CHAT)
        assert fast.status_code == twin.status_code == 401
        assert fast.json() == twin.json()
