"""OpenAI's Responses API through Wayline: `/openai/responses` and `/ollama/v1/responses`,
forwarded to connections that serve it and translated for the others (official SDK)."""

from __future__ import annotations

import json

import openai
import pytest


@pytest.fixture
def settings(gateway_settings):
    return gateway_settings


def sdk(client, account, prefix: str = "/openai") -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{client.base_url}{prefix}",
        api_key=account.api_key,
        http_client=client,
        max_retries=0,
    )


def named_events(resp) -> list[tuple[str, dict]]:
    """`(event, data)` of a raw SSE body with `event:` lines."""
    out = []
    for record in resp.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in record.splitlines() if ": " in line)
        if "data" in lines:
            out.append((lines.get("event", ""), json.loads(lines["data"])))
    return out


def test_forwarded_to_a_connection_that_serves_it(client, alice, fake_upstream):
    api = sdk(client, alice)
    done = api.responses.create(model="gpt-4o-mini", input="sky", max_output_tokens=3)
    assert done.output_text == "Echo: sky lorem" and done.usage.output_tokens == 3
    sent = fake_upstream.last("/v1/responses")
    assert sent.json == {"model": "gpt-4o-mini", "input": "sky", "max_output_tokens": 3}
    assert sent.headers["Authorization"] == "Bearer sk-fake-upstream"

    events = list(api.responses.create(model="gpt-4o-mini", input="blue", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == (
        "Echo: blue"
    )
    assert events[-1].response.usage.total_tokens > 0
    assert not fake_upstream.requests_to("/v1/chat/completions")


def test_translated_when_the_connection_lacks_the_route(client, alice, fake_upstream):
    fake_upstream.missing_routes.add("/v1/responses")
    api = sdk(client, alice)
    done = api.responses.create(
        model="gpt-4o-mini", instructions="Be brief.", input="why", max_output_tokens=4
    )
    assert done.status == "completed" and done.output_text == "Echo: why lorem lorem"
    assert done.usage.input_tokens > 0 and done.usage.output_tokens == 4
    sent = fake_upstream.last("/v1/chat/completions").json
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "why"},
    ]
    assert sent["max_tokens"] == 4

    with api.responses.stream(model="gpt-4o-mini", input="streamed") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert final.output_text == "Echo: streamed" and final.usage.output_tokens == 2
    # The connection was asked once; its missing route is remembered.
    assert len(fake_upstream.requests_to("/v1/responses")) == 1


def test_output_cut_short_is_incomplete(client, alice, fake_upstream):
    fake_upstream.missing_routes.add("/v1/responses")
    done = sdk(client, alice).responses.create(
        model="gpt-4o-mini", input="a long answer please", max_output_tokens=2
    )
    assert done.status == "incomplete" and done.incomplete_details.reason == "max_output_tokens"
    assert done.output_text == "Echo: a"


PIPE = """
class Pipe:
    async def pipe(self, body):
        for word in ["pipe", "says", body["messages"][-1]["content"]]:
            yield word + " "
"""


def test_ollama_and_function_models_are_translated(client, admin, alice, fake_upstream):
    api = sdk(client, alice)
    done = api.responses.create(model="llama3.1", input="local")
    assert done.output_text == "Echo: local" and done.model == "llama3.1:latest"
    assert fake_upstream.last("/api/chat").json["model"] == "llama3.1:latest"
    assert not fake_upstream.requests_to("/v1/responses")

    form = {"id": "echoer", "name": "Echoer", "content": PIPE, "meta": {"description": "d"}}
    assert client.post("/api/v1/functions/create", json=form, headers=admin.headers).is_success
    assert client.post("/api/v1/functions/id/echoer/toggle", headers=admin.headers).is_success
    assert api.responses.create(model="echoer", input="hi").output_text == "pipe says hi "
    streamed = list(api.responses.create(model="echoer", input="yo", stream=True))
    assert streamed[-1].type == "response.completed"
    assert streamed[-1].response.output_text == "pipe says yo "


def test_tool_calls_round_trip_through_translation(client, alice, fake_upstream):
    fake_upstream.missing_routes.add("/v1/responses")
    api = sdk(client, alice)
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        }
    ]
    for model in ("gpt-4o-mini", "llama3.1:latest"):
        first = api.responses.create(model=model, input="Weather in Oslo?", tools=tools)
        call = first.output[0]
        assert call.type == "function_call" and call.name == "get_weather"
        assert json.loads(call.arguments) == {"query": "Weather in Oslo?"}
        second = api.responses.create(
            model=model,
            tools=tools,
            input=[
                {"role": "user", "content": "Weather in Oslo?"},
                {
                    "type": "function_call",
                    "call_id": call.call_id,
                    "name": call.name,
                    "arguments": call.arguments,
                },
                {"type": "function_call_output", "call_id": call.call_id, "output": "cold"},
            ],
        )
        assert second.output_text == "Tool said: cold"
    sent = fake_upstream.last("/v1/chat/completions").json
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["messages"][1]["tool_calls"][0]["function"]["name"] == "get_weather"

    stream = list(
        api.responses.create(model="gpt-4o-mini", input="rain?", tools=tools, stream=True)
    )
    done = [e for e in stream if e.type == "response.function_call_arguments.done"]
    assert json.loads(done[0].arguments) == {"query": "rain?"}
    assert stream[-1].response.output[0].type == "function_call"


def test_ollama_route_forwards_and_falls_back(client, alice, fake_upstream):
    api = sdk(client, alice, "/ollama/v1")
    assert api.responses.create(model="llama3.1", input="native").output_text == "Echo: native"
    assert fake_upstream.last("/v1/responses").json["model"] == "llama3.1:latest"

    fake_upstream.missing_routes.add("/v1/responses")
    events = list(api.responses.create(model="qwen2.5:0.5b", input="old", stream=True))
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "Echo: old"
    assert fake_upstream.last("/api/chat").json["model"] == "qwen2.5:0.5b"
    at_index = client.post(
        "/ollama/v1/responses/0", json={"model": "llama3.1", "input": "idx"}, headers=alice.headers
    )
    assert at_index.status_code == 200 and at_index.json()["output"][0]["content"][0]["text"] == (
        "Echo: idx"
    )
    # Only Ollama models on the Ollama route.
    with pytest.raises(openai.NotFoundError):
        api.responses.create(model="gpt-4o-mini", input="x")


def test_errors(client, alice, fake_upstream):
    assert (
        client.post("/openai/responses", json={"model": "gpt-4o-mini", "input": "x"}).status_code
        == 401
    )
    assert (
        client.post("/ollama/v1/responses", json={"model": "llama3.1", "input": "x"}).status_code
        == 401
    )

    with pytest.raises(openai.NotFoundError) as caught:
        sdk(client, alice).responses.create(model="no-such-model", input="x")
    assert caught.value.code == "model_not_found"

    missing = client.post("/openai/responses", json={"input": "x"}, headers=alice.headers)
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "model"]
    bad = client.post(
        "/openai/responses", json={"model": "gpt-4o-mini", "input": 5}, headers=alice.headers
    )
    assert bad.status_code == 422
    not_json = client.post(
        "/openai/responses",
        content=b"{",
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422
    assert not fake_upstream.requests_to("/v1/responses")

    # What only a Responses server can do is refused, with the reason, when translating.
    fake_upstream.missing_routes.add("/v1/responses")
    for body, param in (
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input"),
    ):
        resp = client.post(
            "/openai/responses",
            json={"model": "llama3.1", "input": "x", **body},
            headers=alice.headers,
        )
        assert resp.status_code == 400, resp.text
        assert "Chat Completions" in resp.json()["detail"]
        assert resp.json()["error"]["param"] == param
    assert not fake_upstream.requests_to("/api/chat")


def test_upstream_errors_are_relayed_not_taken_for_a_missing_route(client, alice, fake_upstream):
    fake_upstream.fail(path="/v1/responses", status=404, message="The model is gone", times=1)
    with pytest.raises(openai.NotFoundError):
        sdk(client, alice).responses.create(model="gpt-4o-mini", input="x")
    assert sdk(client, alice).responses.create(model="gpt-4o-mini", input="y").output_text == (
        "Echo: y"
    )
    assert len(fake_upstream.requests_to("/v1/responses")) == 2
    assert not fake_upstream.requests_to("/v1/chat/completions")

    fake_upstream.fail(model="gpt-4o-mini", path="/v1/responses", status=429, message="slow")
    with pytest.raises(openai.RateLimitError):
        sdk(client, alice).responses.create(model="gpt-4o-mini", input="x")


def test_a_translated_stream_that_fails_ends_with_failed(client, alice, fake_upstream):
    fake_upstream.missing_routes.add("/v1/responses")
    fake_upstream.fail(model="gpt-4o-mini", path="/v1/chat/completions", mode="drop", after=2)
    resp = client.post(
        "/openai/responses",
        json={"model": "gpt-4o-mini", "input": "one two three four", "stream": True},
        headers=alice.headers,
    )
    assert resp.status_code == 200
    events = named_events(resp)
    assert [kind for kind, _ in events][-2:] == ["error", "response.failed"]
    assert events[-1][1]["response"]["status"] == "failed"
    assert events[-1][1]["response"]["error"]["message"]
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))


def test_a_preset_answers_with_its_params(client, alice, fake_upstream):
    created = client.post(
        "/api/v1/models/create",
        json={
            "id": "terse",
            "name": "Terse",
            "base_model_id": "gpt-4o-mini",
            "params": {"system": "Answer in one word.", "temperature": 0.1},
        },
        headers=alice.headers,
    )
    assert created.status_code == 200, created.text
    api = sdk(client, alice)
    assert api.responses.create(model="terse", input="hi").output_text == "Echo: hi"
    native = fake_upstream.last("/v1/responses").json
    assert native["model"] == "gpt-4o-mini" and native["instructions"] == "Answer in one word."
    assert native["temperature"] == 0.1

    fake_upstream.missing_routes.add("/v1/responses")
    assert api.responses.create(model="terse", input="hey").output_text == "Echo: hey"
    chat = fake_upstream.last("/v1/chat/completions").json
    assert chat["model"] == "gpt-4o-mini" and chat["temperature"] == 0.1
    assert chat["messages"][0] == {"role": "system", "content": "Answer in one word."}
