"""`POST /api/chat/completions` and `/api/embeddings` against the fake OpenAI + Ollama upstream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account, free_port, signup
from tests.fakes.sse import events
from tests.fakes.upstream import FakeUpstream
from wayline.chat.service import ChatService
from wayline.core.settings import Settings

SEED_CHAT = {"model": "llama3.1", "messages": [{"role": "user", "content": "Why is the sky blue?"}]}


@pytest.fixture
def settings(gateway_settings: Settings) -> Settings:
    return gateway_settings


def content_of(evts: list[Any]) -> str:
    return "".join(
        (e["choices"][0]["delta"].get("content") or "")
        for e in evts
        if isinstance(e, dict) and e.get("choices")
    )


def test_seed_chat_example_with_api_key_and_jwt(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    for headers in (alice.headers, alice.jwt_headers):
        resp = client.post("/api/chat/completions", headers=headers, json=SEED_CHAT)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["object"] == "chat.completion" and body["model"] == "llama3.1:latest"
        assert body["choices"][0]["message"] == {
            "role": "assistant",
            "content": "Echo: Why is the sky blue?",
        }
        assert body["choices"][0]["finish_reason"] == "stop"
        assert (
            body["usage"]["total_tokens"]
            == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
        )
    sent = fake_upstream.last("/api/chat").json
    assert sent == {"model": "llama3.1:latest", "messages": SEED_CHAT["messages"], "stream": False}


def test_seed_chat_example_on_gpt_4_turbo(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    resp = client.post(
        "/api/v1/chat/completions",
        headers=alice.headers,
        json={**SEED_CHAT, "model": "gpt-4-turbo"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"] == "Echo: Why is the sky blue?"
    rec = fake_upstream.last("/v1/chat/completions")
    assert rec.headers["Authorization"] == "Bearer sk-fake-upstream"
    assert alice.api_key not in str(rec.headers)


def test_openai_body_is_forwarded_as_sent(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
        ],
        "tool_choice": "auto",
        "response_format": {"type": "json_object"},
        "n": 2,
        "logprobs": True,
        "logit_bias": {"50256": -100},
        "stream_options": {"include_usage": True},
        "custom_vendor_field": [1, 2],
    }
    raw = orjson.dumps(body)
    resp = client.post(
        "/api/chat/completions",
        headers={**alice.headers, "Content-Type": "application/json"},
        content=raw,
    )
    assert resp.status_code == 200, resp.text
    assert fake_upstream.last("/v1/chat/completions").body == raw  # byte for byte


def test_wayline_fields_are_not_forwarded(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    extra = {
        "params": {"function_calling": "native"},
        "features": {"web_search": True},
        "tool_ids": ["t"],
        "metadata": {"x": 1},
        "chat_id": "c",
        "id": "m",
        "session_id": "s",
        "background_tasks": {},
        "variables": {"{{USER_NAME}}": "a"},
        "model_item": {},
        "temperature": 0.5,
    }
    resp = client.post(
        "/api/chat/completions",
        headers=alice.headers,
        json={**SEED_CHAT, "model": "gpt-4o-mini", **extra},
    )
    assert resp.status_code == 200, resp.text
    sent = fake_upstream.last("/v1/chat/completions").json
    assert sent == {"model": "gpt-4o-mini", "messages": SEED_CHAT["messages"], "temperature": 0.5}


def test_openai_stream_is_relayed(client: TestClient, alice: Account) -> None:
    resp = client.post(
        "/api/chat/completions",
        headers=alice.headers,
        json={**SEED_CHAT, "model": "gpt-4-turbo", "stream": True},
    )
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    evts = events(resp.text)
    assert evts[-1] == "[DONE]"
    assert content_of(evts) == "Echo: Why is the sky blue?"
    assert len({e["id"] for e in evts[:-1]}) == 1


def test_ollama_stream_is_translated(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    resp = client.post(
        "/api/chat/completions",
        headers=alice.headers,
        json={**SEED_CHAT, "stream": True, "max_tokens": 12, "seed": 3},
    )
    assert resp.status_code == 200
    evts = events(resp.text)
    assert evts[-1] == "[DONE]"
    chunks = evts[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert (
        chunks[-1]["choices"][0]["finish_reason"] == "stop"
        and chunks[-1]["usage"]["completion_tokens"] == 12
    )
    assert content_of(evts).startswith("Echo: Why is the sky blue? lorem")
    assert fake_upstream.last("/api/chat").json["options"] == {"num_predict": 12, "seed": 3}


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]


@pytest.mark.parametrize("model", ["gpt-4-turbo", "llama3.1:latest"])
def test_tool_call_round_trip(client: TestClient, alice: Account, model: str) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.post(
        "/api/chat/completions",
        headers=alice.headers,
        json={"model": model, "messages": messages, "tools": TOOLS},
    )
    assert first.status_code == 200, first.text
    choice = first.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert orjson.loads(call["function"]["arguments"]) == {"query": "Weather in Paris?"}
    messages += [
        choice["message"],
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
    ]
    second = client.post(
        "/api/chat/completions",
        headers=alice.headers,
        json={"model": model, "messages": messages, "tools": TOOLS},
    )
    assert second.json()["choices"][0]["message"]["content"] == "Tool said: sunny"


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ({"model": "nope", "messages": []}, 404, "Model 'nope' was not found"),
        ({"messages": []}, 400, "'model' is required"),
        ({"model": "gpt-4-turbo", "messages": "hi"}, 400, "'messages'"),
        ({"model": "gpt-4-turbo", "messages": [], "params": "x"}, 400, "'params'"),
        ([1, 2], 400, "JSON object"),
    ],
)
def test_bad_requests(
    client: TestClient,
    alice: Account,
    fake_upstream: FakeUpstream,
    body: Any,
    status: int,
    fragment: str,
) -> None:
    resp = client.post("/api/chat/completions", headers=alice.headers, json=body)
    assert resp.status_code == status, resp.text
    assert fragment in resp.json()["detail"]
    assert fake_upstream.requests_to("/v1/chat/completions") == []


def test_invalid_json_and_pending_user(client: TestClient, admin: Account) -> None:
    resp = client.post(
        "/api/chat/completions",
        headers={**admin.headers, "Content-Type": "application/json"},
        content=b"{nope",
    )
    assert resp.status_code == 400 and "not valid JSON" in resp.json()["detail"]
    pending = signup(client, "Pending")  # default role: pending
    assert (
        client.post(
            "/api/chat/completions", headers=pending.jwt_headers, json=SEED_CHAT
        ).status_code
        == 401
    )


@pytest.mark.parametrize(
    "model, path", [("gpt-4o-mini", "/v1/chat/completions"), ("llama3.1:latest", "/api/chat")]
)
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_errors_keep_status_and_message(
    client: TestClient,
    alice: Account,
    fake_upstream: FakeUpstream,
    model: str,
    path: str,
    stream: bool,
) -> None:
    fake_upstream.fail(model, status=500, message="the GPU caught fire")
    resp = client.post(
        "/api/chat/completions",
        headers=alice.headers,
        json={**SEED_CHAT, "model": model, "stream": stream},
    )
    assert resp.status_code == 500 and resp.json()["detail"] == "the GPU caught fire"
    assert resp.json()["error"] == {
        "message": "the GPU caught fire",
        "type": "server_error",
        "code": None,
        "param": None,
    }


def test_rate_limit_passes_retry_after(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.fail("gpt-4o-mini", status=429, retry_after=7, message="slow down")
    resp = client.post(
        "/api/chat/completions", headers=alice.headers, json={**SEED_CHAT, "model": "gpt-4o-mini"}
    )
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
    assert (
        resp.json()["detail"] == "slow down"
        and resp.json()["error"]["code"] == "rate_limit_exceeded"
    )
    assert "x-should-retry" not in resp.headers  # a rate limit is worth retrying


def test_upstream_4xx_for_a_model_it_does_not_have(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> None:
    client = make_client(
        make_settings(
            OPENAI_API_BASE_URLS=fake_upstream.openai_url,
            OPENAI_API_CONFIGS='{"0": {"model_ids": ["ghost"]}}',
        )
    )
    admin = signup(client, "Admin")
    resp = client.post(
        "/api/chat/completions", headers=admin.headers, json={**SEED_CHAT, "model": "ghost"}
    )
    assert resp.status_code == 404 and resp.json()["detail"] == "The model `ghost` does not exist"
    assert resp.json()["error"]["code"] == "model_not_found"  # the upstream's own code, relayed


def test_connect_failure_is_502(
    make_settings: Callable[..., Settings], make_client: Callable[[Settings], TestClient]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    client = make_client(
        make_settings(
            OPENAI_API_BASE_URLS=dead, OPENAI_API_CONFIGS='{"0": {"model_ids": ["ghost"]}}'
        )
    )
    admin = signup(client, "Admin")
    for stream in (False, True):
        resp = client.post(
            "/api/chat/completions",
            headers=admin.headers,
            json={**SEED_CHAT, "model": "ghost", "stream": stream},
        )
        assert resp.status_code == 502 and "unreachable" in resp.json()["detail"]


@pytest.fixture
def impatient(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> tuple[TestClient, Account]:
    client = make_client(
        make_settings(
            OPENAI_API_BASE_URLS=fake_upstream.openai_url,
            OLLAMA_BASE_URLS=fake_upstream.ollama_url,
            AIOHTTP_CLIENT_TIMEOUT=0.5,
            MODELS_CACHE_TTL=0,
        )
    )
    return client, signup(client, "Admin")


@pytest.mark.parametrize("model", ["gpt-4o-mini", "llama3.1:latest"])
def test_hung_upstream_is_504(
    impatient: tuple[TestClient, Account], fake_upstream: FakeUpstream, model: str
) -> None:
    client, admin = impatient
    fake_upstream.fail(model, mode="hang")
    for stream in (False, True):
        resp = client.post(
            "/api/chat/completions",
            headers=admin.headers,
            json={**SEED_CHAT, "model": model, "stream": stream},
        )
        assert resp.status_code == 504 and "timed out" in resp.json()["detail"]


@pytest.mark.parametrize("model", ["gpt-4o-mini", "llama3.1:latest"])
@pytest.mark.parametrize("mode", ["drop", "stall"])
def test_mid_stream_failure_ends_with_error_event_then_done(
    impatient: tuple[TestClient, Account],
    fake_upstream: FakeUpstream,
    model: str,
    mode: str,
) -> None:
    client, admin = impatient
    fake_upstream.fail(model, mode=mode, after=2)
    resp = client.post(
        "/api/chat/completions",
        headers=admin.headers,
        json={**SEED_CHAT, "model": model, "stream": True},
    )
    assert resp.status_code == 200
    evts = events(resp.text)
    assert evts[-1] == "[DONE]"
    assert "error" in evts[-2] and evts[-2]["error"]["message"]
    assert content_of(evts[:-2]).startswith("Echo:")  # what arrived before the failure was relayed


def test_embeddings_routed_to_each_dialect(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    resp = client.post(
        "/api/embeddings",
        headers=alice.headers,
        json={"model": "text-embedding-3-small", "input": ["a b", "c"]},
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert (
        data["object"] == "list"
        and [d["index"] for d in data["data"]] == [0, 1]
        and len(data["data"][0]["embedding"]) == 64
    )
    assert fake_upstream.last("/v1/embeddings").json == {
        "model": "text-embedding-3-small",
        "input": ["a b", "c"],
    }

    resp = client.post(
        "/api/v1/embeddings",
        headers=alice.headers,
        json={"model": "nomic-embed-text", "input": "a b"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["model"] == "nomic-embed-text:latest" and len(resp.json()["data"]) == 1
    assert (
        resp.json()["data"][0]["embedding"] == data["data"][0]["embedding"]
    )  # same text, same vector
    assert fake_upstream.last("/api/embed").json == {
        "model": "nomic-embed-text:latest",
        "input": "a b",
    }

    bad = client.post(
        "/api/embeddings",
        headers=alice.headers,
        json={"model": "text-embedding-3-small", "input": []},
    )
    assert bad.status_code == 400
    assert (
        client.post(
            "/api/embeddings", headers=alice.headers, json={"model": "x", "input": "a"}
        ).status_code
        == 404
    )


class StubAugmenter:
    """Stands in for the knowledge component at the seam: records the call, injects context."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []

    async def augment(
        self, user: Any, body: dict[str, Any], files: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        self.calls.append((user.id, files))
        body["messages"][-1]["content"] = (
            "CONTEXT: the sky scatters blue light.\n" + body["messages"][-1]["content"]
        )
        return [
            {
                "source": {"type": "file", "id": files[0]["id"], "name": "sky.txt"},
                "document": ["the sky"],
                "metadata": [{}],
            }
        ]


@pytest.mark.parametrize(
    "model, path", [("gpt-4-turbo", "/v1/chat/completions"), ("llama3.1:latest", "/api/chat")]
)
def test_files_go_through_the_augmenter(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream, model: str, path: str
) -> None:
    stub = StubAugmenter()
    client.app.state.wayline.get(ChatService).augmenter = stub
    body = {**SEED_CHAT, "model": model, "files": [{"type": "file", "id": "f1"}]}
    resp = client.post("/api/chat/completions", headers=alice.headers, json=body)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert next(iter(answer)) == "sources" and answer["sources"][0]["source"]["id"] == "f1"
    sent = fake_upstream.last(path).json
    assert "files" not in sent and sent["messages"][-1]["content"].startswith("CONTEXT: the sky")
    assert stub.calls == [(alice.id, [{"type": "file", "id": "f1"}])]

    stream = client.post(
        "/api/chat/completions", headers=alice.headers, json={**body, "stream": True}
    )
    evts = events(stream.text)
    first = evts[0]
    assert (
        first["object"] == "chat.completion.chunk"
        and first["choices"] == []
        and first["sources"][0]["source"]["id"] == "f1"
    )
    assert first["id"] == evts[1]["id"]
    assert content_of(evts).startswith("Echo: CONTEXT: the sky")


def test_no_files_means_no_augmenter_call(client: TestClient, alice: Account) -> None:
    stub = StubAugmenter()
    client.app.state.wayline.get(ChatService).augmenter = stub
    resp = client.post(
        "/api/chat/completions", headers=alice.headers, json={**SEED_CHAT, "files": []}
    )
    assert resp.status_code == 200 and "sources" not in resp.json() and stub.calls == []
