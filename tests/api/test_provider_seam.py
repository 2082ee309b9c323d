"""A dialect is one class and one entry in `providers.dialects.PROVIDERS`.

`EchoProvider` below is a whole provider: its own connections, model list, chat (streamed
and not) and embeddings. With it added to the table, and nothing else changed, its models
show up in `/api/models`. Chat, presets and access control work for them, streams arrive
as OpenAI chunks, and the preset's parameters reach the provider.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from starlette.responses import Response

from tests.conftest import Account, signup
from tests.fakes.sse import events
from wayline.core import errors
from wayline.core.settings import Settings
from wayline.core.state import Core
from wayline.core.streams import DONE, event_stream, json_response, sse_event
from wayline.providers import dialects
from wayline.providers.base import OPENAI_PARAMS, ChatCall, Health, probe_by_listing
from wayline.providers.connections import Connection, configured
from wayline.providers.entries import ModelEntry, openai_entry


class EchoProvider:
    kind: ClassVar[str] = "echo"
    preset_params: ClassVar[tuple[str, ...]] = OPENAI_PARAMS
    uses_connections: ClassVar[bool] = True

    def __init__(self, core: Core) -> None:
        self.calls: list[dict[str, Any]] = []

    def connections(self, settings: Settings) -> list[Connection]:
        return configured("echo", ["http://echo.invalid"], [""], {}, "external")

    async def list_models(self, conn: Connection | None, timeout: float) -> list[ModelEntry]:
        assert conn is not None
        entry = openai_entry(conn, {"id": "echo-1", "object": "model", "owned_by": "echo"})
        return [ModelEntry(**{**entry.__dict__, "kind": self.kind})]

    def merge(self, first: ModelEntry, other: ModelEntry, turns: Iterator[int]) -> None:
        return None

    async def probe(self, conn: Connection | None, timeout: float) -> Health:
        return await probe_by_listing(self, conn, timeout)

    async def chat(self, call: ChatCall) -> Response:
        self.calls.append(call.body)
        text = " | ".join(str(m.get("content")) for m in call.body["messages"])
        if not call.stream:
            return json_response(
                {
                    "id": "echo",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": call.entry.id,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                }
            )

        async def chunks() -> AsyncIterator[bytes]:
            for word in text.split(" "):
                yield sse_event(
                    {
                        "id": "echo",
                        "object": "chat.completion.chunk",
                        "model": call.entry.id,
                        "choices": [{"index": 0, "delta": {"content": word + " "}}],
                    }
                )
            yield DONE

        return event_stream(chunks())

    async def embeddings(self, entry: ModelEntry, body: dict[str, Any]) -> Response:
        raise errors.BadRequest(f"Model '{entry.id}' does not support embeddings")


@pytest.fixture
def echo_client(
    monkeypatch: pytest.MonkeyPatch,
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
) -> TestClient:
    monkeypatch.setattr(dialects, "PROVIDERS", (*dialects.PROVIDERS, EchoProvider))
    return make_client(make_settings(MODELS_CACHE_TTL=0))


def echo_of(client: TestClient) -> EchoProvider:
    from wayline.providers.registry import ModelRegistry

    provider = client.app.state.wayline.get(ModelRegistry).providers.of("echo")
    assert isinstance(provider, EchoProvider)
    return provider


def test_a_new_dialect_serves_chat_presets_and_streams(echo_client: TestClient) -> None:
    admin = signup(echo_client, "Admin")
    alice: Account = signup(echo_client, "Alice", admin=admin)
    listed = echo_client.get("/api/models", headers=alice.headers).json()["data"]
    assert [m["id"] for m in listed] == ["echo-1"]

    body = {"model": "echo-1", "messages": [{"role": "user", "content": "hello there"}]}
    answer = echo_client.post("/api/chat/completions", headers=alice.headers, json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "hello there"

    streamed = echo_client.post(
        "/api/chat/completions", headers=alice.headers, json={**body, "stream": True}
    )
    assert streamed.headers["content-type"].startswith("text/event-stream")
    chunks = [e for e in events(streamed.text) if e != "[DONE]"]
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "hello there "

    # A preset over the new dialect's model: its system prompt and params reach the provider.
    preset = {
        "id": "echo-poet",
        "base_model_id": "echo-1",
        "name": "Echo poet",
        "params": {"system": "Answer in verse.", "temperature": 0.3},
        "meta": {},
    }
    created = echo_client.post("/api/v1/models/create", headers=alice.headers, json=preset)
    assert created.status_code == 200, created.text
    answer = echo_client.post(
        "/api/chat/completions", headers=alice.headers, json={**body, "model": "echo-poet"}
    )
    assert answer.json()["choices"][0]["message"]["content"] == "Answer in verse. | hello there"
    assert echo_of(echo_client).calls[-1]["temperature"] == 0.3

    # Access control is the registry's, whatever the dialect: Bob cannot use Alice's preset.
    bob = signup(echo_client, "Bob", admin=admin)
    refused = echo_client.post(
        "/api/chat/completions", headers=bob.headers, json={**body, "model": "echo-poet"}
    )
    assert refused.status_code == 404
    embed = echo_client.post(
        "/api/embeddings", headers=alice.headers, json={"model": "echo-1", "input": "x"}
    )
    assert embed.status_code == 400
    assert "does not support embeddings" in embed.json()["detail"]


def test_without_the_registry_line_the_dialect_is_not_served(
    make_settings: Callable[..., Settings], make_client: Callable[[Settings], TestClient]
) -> None:
    client = make_client(make_settings(MODELS_CACHE_TTL=0))
    admin = signup(client, "Admin")
    assert client.get("/api/models", headers=admin.headers).json()["data"] == []
