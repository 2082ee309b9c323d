"""The official `openai` SDK against a limited key on a real `wayline serve`: it sees OpenAI's
`x-ratelimit-*` headers, raises `RateLimitError` on a refusal, and does not retry a spent
budget (`x-should-retry: false`) while it does retry a refusal that says nothing of the kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import LiveServer
from tests.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

MODEL = "gpt-4o-mini"
HI: list[Any] = [{"role": "user", "content": "hi"}]
UPSTREAM_CHAT = "/v1/chat/completions"


@pytest.fixture
def server(
    live_server_factory: Callable[..., LiveServer], fake_upstream: FakeUpstream
) -> LiveServer:
    return live_server_factory(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake-upstream",
        ENABLE_OLLAMA_API="false",
    )


@pytest.fixture
def token(server: LiveServer) -> str:
    signed = httpx.post(
        f"{server.url}/api/v1/auths/signup",
        json={"name": "Ada", "email": "ada@example.com", "password": "pw-ada-123"},
    )
    assert signed.status_code == 200, signed.text
    return str(signed.json()["token"])


def new_key(server: LiveServer, token: str, **limits: Any) -> str:
    resp = httpx.post(
        f"{server.url}/api/v1/auths/api_keys",
        headers={"Authorization": f"Bearer {token}"},
        json=limits,
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["api_key"])


def sdk(server: LiveServer, key: str, max_retries: int, sent: list[str]) -> openai.OpenAI:
    """The SDK with its own retries; `sent` records every HTTP request it makes."""
    http = openai.DefaultHttpxClient(event_hooks={"request": [lambda r: sent.append(r.url.path)]})
    return openai.OpenAI(
        base_url=f"{server.url}/api", api_key=key, max_retries=max_retries, http_client=http
    )


def test_the_sdk_sees_the_rate_limit_headers_and_raises_rate_limit_error(
    server: LiveServer, token: str
) -> None:
    sent: list[str] = []
    client = sdk(server, new_key(server, token, rpm_limit=2, tpm_limit=10_000), 0, sent)

    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=HI)
    assert raw.headers["x-ratelimit-limit-requests"] == "2"
    assert raw.headers["x-ratelimit-remaining-requests"] == "1"
    assert raw.headers["x-ratelimit-limit-tokens"] == "10000"
    assert 9_900 < int(raw.headers["x-ratelimit-remaining-tokens"]) < 10_000
    assert raw.headers["x-ratelimit-reset-requests"] and raw.headers["x-ratelimit-reset-tokens"]
    assert raw.parse().choices[0].message.content == "Echo: hi"

    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=HI, stream=True
    ) as streamed:
        assert streamed.headers["x-ratelimit-remaining-requests"] == "0"
        assert any("[DONE]" in line for line in streamed.iter_lines())

    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model=MODEL, messages=HI)
    error = refused.value
    assert error.status_code == 429
    assert error.code == "rate_limit_exceeded" and error.type == "rate_limit_exceeded"
    assert "2 per minute" in error.message
    assert int(error.response.headers["retry-after"]) >= 1
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert len(sent) == 3


def test_the_sdk_does_not_retry_a_spent_budget(
    server: LiveServer, token: str, fake_upstream: FakeUpstream
) -> None:
    sent: list[str] = []
    # A 30 s budget renews soon enough that the SDK would wait `retry-after` and retry (it gives
    # up by itself past 2 minutes): only `x-should-retry: false` stops it.
    client = sdk(server, new_key(server, token, token_budget=20, budget_duration="30s"), 3, sent)
    words = [{"role": "user", "content": "a " * 20}]
    assert client.chat.completions.create(model=MODEL, messages=words).usage.total_tokens > 20
    sent.clear()
    upstream_calls = len(fake_upstream.requests_to(UPSTREAM_CHAT))

    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model=MODEL, messages=HI)
    assert refused.value.code == "insufficient_quota" and refused.value.type == "insufficient_quota"
    assert refused.value.response.headers["x-should-retry"] == "false"
    # Within two spans (the window slides), well under the 2 minutes past which the SDK gives up.
    assert int(refused.value.response.headers["retry-after"]) <= 60
    assert sent == ["/api/chat/completions"]  # one request: not retried
    assert len(fake_upstream.requests_to(UPSTREAM_CHAT)) == upstream_calls


def test_the_sdk_retries_a_refusal_worth_retrying(
    server: LiveServer, token: str, fake_upstream: FakeUpstream
) -> None:
    """The contrast: a request refused for want of an in-flight place (`retry-after: 1`, no
    `x-should-retry`) is retried by the SDK on its own."""
    key = new_key(server, token, max_parallel_requests=1)
    sent: list[str] = []
    client = sdk(server, key, 1, sent)
    fake_upstream.token_delay = 0.05
    long = {"model": MODEL, "messages": HI, "stream": True, "max_tokens": 400}  # ~20 s
    with (
        httpx.Client(base_url=server.url, timeout=30) as http,
        http.stream(
            "POST",
            "/api/chat/completions",
            json=long,
            headers={"Authorization": f"Bearer {key}"},
        ) as holding,
    ):
        chunks = holding.iter_bytes()  # kept: a dropped iterator closes the connection
        assert b"chat.completion.chunk" in next(chunks)
        with pytest.raises(openai.RateLimitError) as refused:
            client.chat.completions.create(model=MODEL, messages=HI)
    assert refused.value.code == "rate_limit_exceeded"
    assert sent == ["/api/chat/completions"] * 2  # the first try and one retry
