"""The official `openai` SDK against a real `wayline serve` in front of the fake upstream."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import openai
import pytest

from tests.conftest import LiveServer
from tests.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.e2e


@pytest.fixture
def gateway_server(
    live_server_factory: Callable[..., LiveServer], fake_upstream: FakeUpstream
) -> LiveServer:
    return live_server_factory(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake-upstream",
        OLLAMA_BASE_URLS=fake_upstream.ollama_url,
        DEFAULT_USER_ROLE="user",
    )


def api_key(url: str) -> str:
    with httpx.Client(base_url=url, timeout=30) as http:
        token = http.post(
            "/api/v1/auths/signup",
            json={"name": "Ada", "email": "ada@example.com", "password": "pw-ada-123"},
        ).json()["token"]
        resp = http.post("/api/v1/auths/api_key", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        return resp.json()["api_key"]


@pytest.fixture
def sdk(gateway_server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway_server.url}/api", api_key=api_key(gateway_server.url), max_retries=0
    )


def test_openai_sdk_end_to_end(sdk: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    """One server, the whole SDK surface (a server start costs seconds, so the checks share it)."""
    ids = [m.id for m in sdk.models.list()]
    assert ids == [
        "gpt-4-turbo",
        "gpt-4o-mini",
        "text-embedding-3-small",
        "llama3.1:latest",
        "qwen2.5:0.5b",
        "nomic-embed-text:latest",
    ]
    for model in ("gpt-4-turbo", "llama3.1"):
        check_chat(sdk, model)
    for model in ("gpt-4o-mini", "llama3.1:latest"):
        check_tools_round_trip(sdk, model)
    out = sdk.embeddings.create(model="text-embedding-3-small", input=["one", "two"])
    assert [d.index for d in out.data] == [0, 1] and len(out.data[0].embedding) == 64

    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    fake_upstream.fail("gpt-4o-mini", status=429, retry_after=1, message="slow down")
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )


def check_chat(sdk: openai.OpenAI, model: str) -> None:
    messages = [{"role": "user", "content": "Why is the sky blue?"}]
    done = sdk.chat.completions.create(model=model, messages=messages)
    assert done.choices[0].message.content == "Echo: Why is the sky blue?"
    assert done.choices[0].finish_reason == "stop" and done.usage.total_tokens > 0

    chunks = list(sdk.chat.completions.create(model=model, messages=messages, stream=True))
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == "Echo: Why is the sky blue?"
    )
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def check_tools_round_trip(sdk: openai.OpenAI, model: str) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
            },
        }
    ]
    messages: list = [{"role": "user", "content": "Weather in Oslo?"}]
    first = sdk.chat.completions.create(model=model, messages=messages, tools=tools)
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {
        "query": "Weather in Oslo?"
    }
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "cold"},
    ]
    second = sdk.chat.completions.create(model=model, messages=messages, tools=tools)
    assert second.choices[0].message.content == "Tool said: cold"


def test_client_disconnect_cancels_the_upstream_request(
    gateway_server: LiveServer, fake_upstream: FakeUpstream
) -> None:
    key = api_key(gateway_server.url)
    fake_upstream.token_delay = 0.05  # 400 tokens: a 20 s stream unless cancelled
    for model, path in (("gpt-4o-mini", "/v1/chat/completions"), ("llama3.1:latest", "/api/chat")):
        fake_upstream.disconnects.clear()
        fake_upstream._disconnected.clear()
        disconnect_mid_stream(gateway_server.url, key, fake_upstream, model, path)


def disconnect_mid_stream(
    url: str, key: str, fake_upstream: FakeUpstream, model: str, path: str
) -> None:
    body = {
        "model": model,
        "stream": True,
        "max_tokens": 400,
        "messages": [{"role": "user", "content": "long"}],
    }
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=url, timeout=30) as http,
        http.stream("POST", "/api/chat/completions", json=body, headers=headers) as resp,
    ):
        assert resp.status_code == 200
        first = next(resp.iter_bytes())
        assert b"chat.completion.chunk" in first
    assert fake_upstream.wait_disconnect(10), "the upstream request was not cancelled"
    assert fake_upstream.disconnects == [path]
