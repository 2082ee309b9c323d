"""Fixtures around the fake upstreams (registered in tests/conftest.py via pytest_plugins).

- `fake_upstream`: the running `FakeUpstream` (tests/fakes/upstream.py): one server per
  test session, `reset()` before every test (recorded requests, scripted failures,
  delays and model lists all cleared). Attributes: `.url`, `.openai_url` (`…/v1`),
  `.ollama_url`, `.requests` (full JSON bodies), `.last(path)`, `.fail(...)`,
  `.models_delay`, `.token_delay`, `.disconnects` / `.wait_disconnect()`.
  Models: OpenAI `gpt-4-turbo`, `gpt-4o-mini`, `text-embedding-3-small`;
  Ollama `llama3.1:latest`, `qwen2.5:0.5b`, `nomic-embed-text:latest`.
- `second_upstream`: a second `FakeUpstream` (same models, another port), reset likewise.
- `gateway_settings`: `Settings` with `OPENAI_API_BASE_URLS=<fake>/v1` (key `sk-fake-upstream`)
  and `OLLAMA_BASE_URLS=<fake>`, model-list cache off (`MODELS_CACHE_TTL=0`) so every test
  sees the fake's current state.
- `gateway`: a started TestClient on `gateway_settings`. Sign accounts up on it with
  `tests.conftest.signup(gateway, "Admin")`.

To make the conftest's own `client`, `admin`, `alice`, `bob` talk to the fake, override
`settings` in your test module:

    @pytest.fixture
    def settings(gateway_settings):
        return gateway_settings

`s3_server` / `s3_bucket` (tests/fakes/s3.py): moto_server on loopback, a fresh bucket.

Other route sets (images, audio) live in `tests/fakes/media.py`, registered with
`tests.fakes.upstream.route_builder`; this module imports it when it exists.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.fakes.s3 import s3_bucket, s3_server  # noqa: F401 (fixtures: an S3 server, a bucket)
from tests.fakes.upstream import FakeUpstream
from wayline.core.settings import Settings

# Optional modules that register extra routes on the fake before it starts.
EXTRA_ROUTE_MODULES = ("tests.fakes.media", "tests.fakes.native_apis", "tests.fakes.model_servers")


def _load_extra_routes() -> None:
    for name in EXTRA_ROUTE_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


@pytest.fixture(scope="session")
def _fake_upstream_server() -> Iterator[FakeUpstream]:
    _load_extra_routes()
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_upstream(_fake_upstream_server: FakeUpstream) -> FakeUpstream:
    _fake_upstream_server.reset()
    return _fake_upstream_server


@pytest.fixture(scope="session")
def _second_upstream_server(_fake_upstream_server: FakeUpstream) -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()  # after the first: the extra routes are registered
    yield fake
    fake.stop()


@pytest.fixture
def second_upstream(_second_upstream_server: FakeUpstream) -> FakeUpstream:
    """Another fake upstream, serving the same models on another port (one model with two
    deployments, for routing tests); `reset()` before every test."""
    _second_upstream_server.reset()
    return _second_upstream_server


@pytest.fixture
def gateway_settings(
    make_settings: Callable[..., Settings], fake_upstream: FakeUpstream
) -> Settings:
    return make_settings(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake-upstream",
        OLLAMA_BASE_URLS=fake_upstream.ollama_url,
        MODELS_CACHE_TTL=0,
    )


@pytest.fixture
def gateway(
    make_client: Callable[[Settings], TestClient], gateway_settings: Settings
) -> TestClient:
    return make_client(gateway_settings)
