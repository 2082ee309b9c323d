"""The Responses and Messages APIs with the official `openai` and `anthropic` SDKs against a real
`wayline serve`, in front of two fake upstreams: one that serves `/v1/responses` and
`/v1/messages` itself (answers forwarded), and one, prefixed `legacy.`, that lacks them as an
older server does (answers translated through Chat Completions)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import anthropic
import openai
import pytest

from tests.conftest import LiveServer
from tests.e2e.test_openai_sdk import api_key
from tests.fakes.fixtures import _load_extra_routes
from tests.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

TOOLS_RESPONSES = [
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
    }
]
TOOLS_MESSAGES = [
    {
        "name": "get_weather",
        "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
    }
]


@pytest.fixture(scope="module")
def legacy_server() -> Iterator[FakeUpstream]:
    _load_extra_routes()
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def legacy(legacy_server: FakeUpstream) -> FakeUpstream:
    legacy_server.reset()
    legacy_server.missing_routes |= {"/v1/responses", "/v1/messages"}
    return legacy_server


@pytest.fixture
def server(
    live_server_factory: Callable[..., LiveServer],
    fake_upstream: FakeUpstream,
    legacy: FakeUpstream,
) -> LiveServer:
    legacy_config = json.dumps({"1": {"prefix_id": "legacy"}})
    return live_server_factory(
        OPENAI_API_BASE_URLS=f"{fake_upstream.openai_url};{legacy.openai_url}",
        OPENAI_API_KEYS="sk-fake-upstream;sk-legacy",
        OPENAI_API_CONFIGS=legacy_config,
        OLLAMA_BASE_URLS=f"{fake_upstream.ollama_url};{legacy.ollama_url}",
        OLLAMA_API_CONFIGS=legacy_config,
        DEFAULT_USER_ROLE="user",
    )


def test_responses_api_with_the_openai_sdk(
    server: LiveServer, fake_upstream: FakeUpstream, legacy: FakeUpstream
) -> None:
    key = api_key(server.url)
    api = openai.OpenAI(base_url=f"{server.url}/openai", api_key=key, max_retries=0)
    cases = (
        ("gpt-4o-mini", fake_upstream, "/v1/responses"),
        ("legacy.gpt-4o-mini", legacy, "/v1/chat/completions"),
    )
    for model, upstream, path in cases:
        done = api.responses.create(model=model, instructions="Be brief.", input="Why blue?")
        assert done.output_text == "Echo: Why blue?" and done.usage.total_tokens > 0
        assert upstream.last(path).json["model"] == "gpt-4o-mini"

        events = list(api.responses.create(model=model, input="Stream it", stream=True))
        kinds = [event.type for event in events]
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert text == "Echo: Stream it" and events[-1].response.usage.output_tokens == 3

        with api.responses.stream(model=model, input="Helper") as stream:
            assert stream.get_final_response().output_text == "Echo: Helper"

        call = api.responses.create(model=model, input="Oslo?", tools=TOOLS_RESPONSES).output[0]
        assert call.type == "function_call" and json.loads(call.arguments) == {"query": "Oslo?"}
    # The legacy connection was asked once; its missing route is remembered.
    assert len(legacy.requests_to("/v1/responses")) == 1

    # Ollama models: natively on Ollama's own route, translated through /api/chat otherwise.
    ollama = openai.OpenAI(base_url=f"{server.url}/ollama/v1", api_key=key, max_retries=0)
    assert ollama.responses.create(model="llama3.1", input="hi").output_text == "Echo: hi"
    assert fake_upstream.last("/v1/responses").json["model"] == "llama3.1:latest"
    streamed = list(
        ollama.responses.create(model="legacy.llama3.1:latest", input="yo", stream=True)
    )
    assert streamed[-1].response.output_text == "Echo: yo"
    assert legacy.last("/api/chat").json["model"] == "llama3.1:latest"

    with pytest.raises(openai.NotFoundError):
        api.responses.create(model="no-such-model", input="x")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url=f"{server.url}/openai", api_key="sk-wrong", max_retries=0
        ).responses.create(model="gpt-4o-mini", input="x")


def test_messages_api_with_the_anthropic_sdk(
    server: LiveServer, fake_upstream: FakeUpstream, legacy: FakeUpstream
) -> None:
    key = api_key(server.url)
    ollama = anthropic.Anthropic(base_url=f"{server.url}/ollama", api_key=key, max_retries=0)
    everything = anthropic.Anthropic(base_url=f"{server.url}/api", api_key=key, max_retries=0)
    hello = [{"role": "user", "content": "hello"}]
    cases = (
        (ollama, "llama3.1:latest", fake_upstream, "/v1/messages"),
        (ollama, "legacy.llama3.1:latest", legacy, "/api/chat"),
        (everything, "gpt-4o-mini", fake_upstream, "/v1/chat/completions"),
        (everything, "legacy.llama3.1:latest", legacy, "/api/chat"),
    )
    for api, model, upstream, path in cases:
        done = api.messages.create(model=model, max_tokens=3, system="Be kind.", messages=hello)
        assert done.content[0].text == "Echo: hello lorem", model
        assert done.stop_reason == "end_turn" and done.usage.output_tokens == 3
        assert upstream.last(path).json["model"] in ("llama3.1:latest", "gpt-4o-mini")

        with api.messages.stream(model=model, max_tokens=2, messages=hello) as stream:
            kinds = [event.type for event in stream]
            final = stream.get_final_message()
        assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
        assert final.content[0].text == "Echo: hello" and final.usage.output_tokens == 2

        first = api.messages.create(
            model=model,
            max_tokens=50,
            tools=TOOLS_MESSAGES,
            messages=[{"role": "user", "content": "Oslo?"}],
        )
        use = first.content[-1]
        assert first.stop_reason == "tool_use" and use.input == {"query": "Oslo?"}
        second = api.messages.create(
            model=model,
            max_tokens=50,
            tools=TOOLS_MESSAGES,
            messages=[
                {"role": "user", "content": "Oslo?"},
                {"role": "assistant", "content": [use.model_dump(exclude_none=True)]},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "cold"}],
                },
            ],
        )
        assert second.content[0].text.startswith("Tool said: cold")
    assert len(legacy.requests_to("/v1/messages")) == 1  # asked once, then remembered

    with pytest.raises(anthropic.NotFoundError):
        ollama.messages.create(model="gpt-4o-mini", max_tokens=5, messages=hello)
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(
            base_url=f"{server.url}/api", api_key="sk-wrong", max_retries=0
        ).messages.create(model="gpt-4o-mini", max_tokens=5, messages=hello)
