"""Anthropic's Messages API through Wayline (official `anthropic` SDK): `/ollama/v1/messages`
(Ollama's own, or translated for an older Ollama) and `/api/v1/messages` (every model,
through the chat pipeline)."""

from __future__ import annotations

import anthropic
import pytest


@pytest.fixture
def settings(gateway_settings):
    return gateway_settings


def sdk(client, account, prefix: str) -> anthropic.Anthropic:
    # `api_key` travels as `x-api-key`, as the SDK always sends it.
    return anthropic.Anthropic(
        base_url=f"{client.base_url}{prefix}",
        api_key=account.api_key,
        http_client=client,
        max_retries=0,
    )


HELLO = [{"role": "user", "content": "hello"}]
TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather by city",
        "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
    }
]


def test_ollama_route_forwards_to_ollama(client, alice, fake_upstream):
    api = sdk(client, alice, "/ollama")
    done = api.messages.create(model="llama3.1", max_tokens=3, system="Be kind.", messages=HELLO)
    assert done.content[0].text == "Echo: hello lorem" and done.stop_reason == "end_turn"
    sent = fake_upstream.last("/v1/messages").json
    assert sent["model"] == "llama3.1:latest" and sent["system"] == "Be kind."
    assert sent["max_tokens"] == 3

    with api.messages.stream(model="llama3.1", max_tokens=10, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.startswith("Echo: hello") and final.usage.output_tokens == 10
    assert not fake_upstream.requests_to("/api/chat")


def test_ollama_route_translates_for_an_older_ollama(client, alice, fake_upstream):
    fake_upstream.missing_routes.add("/v1/messages")
    api = sdk(client, alice, "/ollama")
    done = api.messages.create(model="llama3.1", max_tokens=4, system="Be kind.", messages=HELLO)
    assert done.content[0].text == "Echo: hello lorem lorem"
    assert done.model == "llama3.1" and done.usage.output_tokens == 4
    sent = fake_upstream.last("/api/chat").json
    assert sent["messages"][0] == {"role": "system", "content": "Be kind."}
    assert sent["options"]["num_predict"] == 4

    with api.messages.stream(model="qwen2.5:0.5b", max_tokens=20, messages=HELLO) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_message()
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert "content_block_delta" in events and "message_delta" in events
    assert final.content[0].text.startswith("Echo: hello") and final.usage.output_tokens == 20
    assert len(fake_upstream.requests_to("/v1/messages")) == 1  # remembered


def test_api_route_answers_every_model(client, alice, fake_upstream):
    api = sdk(client, alice, "/api")
    for model, path in (("gpt-4o-mini", "/v1/chat/completions"), ("llama3.1", "/api/chat")):
        done = api.messages.create(model=model, max_tokens=8, messages=HELLO)
        assert done.content[0].text.startswith("Echo: hello") and done.model == model
        assert fake_upstream.last(path).json["messages"] == [{"role": "user", "content": "hello"}]
        with api.messages.stream(model=model, max_tokens=8, messages=HELLO) as stream:
            assert "".join(stream.text_stream).startswith("Echo: hello")
    # Open WebUI's older alias.
    resp = client.post(
        "/api/message",
        json={"model": "gpt-4o-mini", "max_tokens": 5, "messages": HELLO},
        headers=alice.headers,
    )
    assert resp.status_code == 200 and resp.json()["type"] == "message"


def test_tool_use_round_trip(client, alice, fake_upstream):
    fake_upstream.missing_routes.add("/v1/messages")
    for prefix, model in (("/api", "gpt-4o-mini"), ("/ollama", "llama3.1:latest")):
        api = sdk(client, alice, prefix)
        ask = [{"role": "user", "content": "Weather in Oslo?"}]
        first = api.messages.create(model=model, max_tokens=50, messages=ask, tools=TOOLS)
        use = first.content[-1]
        assert first.stop_reason == "tool_use" and use.type == "tool_use"
        assert use.name == "get_weather" and use.input == {"query": "Weather in Oslo?"}
        second = api.messages.create(
            model=model,
            max_tokens=50,
            tools=TOOLS,
            messages=[
                *ask,
                {"role": "assistant", "content": [use.model_dump(exclude_none=True)]},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "cold"}],
                },
            ],
        )
        assert second.content[0].text.startswith("Tool said: cold")
    sent = fake_upstream.last("/api/chat").json
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["messages"][-1]["role"] == "tool"

    with sdk(client, alice, "/api").messages.stream(
        model="gpt-4o-mini", max_tokens=50, messages=HELLO, tools=TOOLS
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use" and final.content[-1].input == {"query": "hello"}


def test_errors(client, alice, fake_upstream):
    body = {"model": "llama3.1", "max_tokens": 5, "messages": HELLO}
    for path in ("/ollama/v1/messages", "/api/v1/messages"):
        assert client.post(path, json=body).status_code == 401
        missing = client.post(path, json={"model": "llama3.1"}, headers=alice.headers)
        assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == [
            "body",
            "messages",
        ]
        unknown = client.post(path, json={**body, "model": "nope"}, headers=alice.headers)
        assert (
            unknown.status_code == 404 and unknown.json()["detail"] == "Model 'nope' was not found"
        )
    # Only Ollama models on the Ollama route.
    with pytest.raises(anthropic.NotFoundError):
        sdk(client, alice, "/ollama").messages.create(
            model="gpt-4o-mini", max_tokens=5, messages=HELLO
        )

    fake_upstream.missing_routes.add("/v1/messages")
    for path in ("/ollama/v1/messages", "/api/v1/messages"):
        resp = client.post(
            path,
            json={**body, "messages": [{"role": "robot", "content": "x"}]},
            headers=alice.headers,
        )
        assert resp.status_code == 400 and "role" in resp.json()["detail"]
        server_tool = client.post(
            path,
            json={**body, "tools": [{"type": "web_search_20250305", "name": "web_search"}]},
            headers=alice.headers,
        )
        assert server_tool.status_code == 400 and "Chat Completions" in server_tool.json()["detail"]
    assert not fake_upstream.requests_to("/api/chat")


def test_upstream_errors_are_relayed(client, alice, fake_upstream):
    fake_upstream.fail(model="llama3.1:latest", path="/v1/messages", status=429, message="busy")
    with pytest.raises(anthropic.RateLimitError):
        sdk(client, alice, "/ollama").messages.create(
            model="llama3.1", max_tokens=5, messages=HELLO
        )
    assert not fake_upstream.requests_to("/api/chat")


def test_a_stream_that_fails_ends_with_an_error_event(client, alice, fake_upstream):
    fake_upstream.fail(model="gpt-4o-mini", path="/v1/chat/completions", mode="drop", after=2)
    api = sdk(client, alice, "/api")
    with (
        pytest.raises(anthropic.APIStatusError),
        api.messages.stream(model="gpt-4o-mini", max_tokens=50, messages=HELLO) as stream,
    ):
        "".join(stream.text_stream)


def test_count_tokens_where_the_connection_counts(client, alice, fake_upstream):
    api = sdk(client, alice, "/api")
    counted = api.messages.count_tokens(
        model="gpt-4o-mini", system="Be kind.", messages=[{"role": "user", "content": "one two"}]
    )
    assert counted.input_tokens == 4
    sent = fake_upstream.last("/v1/messages/count_tokens")
    assert sent.json["model"] == "gpt-4o-mini"
    assert sent.headers["Authorization"] == "Bearer sk-fake-upstream"
    assert (
        sdk(client, alice, "/api")
        .messages.count_tokens(model="llama3.1", messages=HELLO)
        .input_tokens
        == 1
    )

    fake_upstream.missing_routes.add("/v1/messages/count_tokens")
    resp = client.post(
        "/api/message/count_tokens",
        json={"model": "gpt-4o-mini", "messages": HELLO},
        headers=alice.headers,
    )
    assert resp.status_code == 400 and "does not count tokens" in resp.json()["detail"]
    unknown = client.post(
        "/api/v1/messages/count_tokens",
        json={"model": "nope", "messages": HELLO},
        headers=alice.headers,
    )
    assert unknown.status_code == 404
    assert client.post("/api/v1/messages/count_tokens", json={"model": "x"}).status_code == 401


def test_a_preset_answers_with_its_params(client, alice, fake_upstream):
    preset = {
        "id": "kind-llama",
        "name": "Kind",
        "base_model_id": "llama3.1:latest",
        "params": {"system": "Be kind.", "temperature": 0.2},
    }
    assert client.post("/api/v1/models/create", json=preset, headers=alice.headers).is_success
    api = sdk(client, alice, "/ollama")
    done = api.messages.create(model="kind-llama", max_tokens=2, messages=HELLO)
    assert done.content[0].text == "Echo: hello"
    sent = fake_upstream.last("/v1/messages").json
    assert sent["model"] == "llama3.1:latest" and sent["system"] == "Be kind."
    assert sent["temperature"] == 0.2

    fake_upstream.missing_routes.add("/v1/messages")
    api.messages.create(model="kind-llama", max_tokens=2, system="Short.", messages=HELLO)
    chat = fake_upstream.last("/api/chat").json
    assert chat["messages"][0] == {"role": "system", "content": "Be kind.\nShort."}
    assert chat["options"]["temperature"] == 0.2
