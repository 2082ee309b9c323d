"""The official `ollama` Python client, unchanged, against a real `wayline serve` at `/ollama`.

One server for all flows (starting one takes seconds): list, chat (stream and not),
generate (stream and not), embed, and errors surfacing as `ollama.ResponseError`.
"""

from __future__ import annotations

import httpx
import ollama
import pytest

from tests.conftest import signup

pytestmark = pytest.mark.e2e


def test_official_ollama_client_flows(live_server_factory, fake_upstream):
    live = live_server_factory(
        OLLAMA_BASE_URLS=fake_upstream.ollama_url, OPENAI_API_BASE_URLS="", MODELS_CACHE_TTL="0"
    )
    with httpx.Client(base_url=live.url) as http:
        user = signup(http, "Admin")
    api = ollama.Client(
        host=f"{live.url}/ollama", headers={"Authorization": f"Bearer {user.api_key}"}
    )

    # list
    assert [m.model for m in api.list().models] == [
        "llama3.1:latest",
        "qwen2.5:0.5b",
        "nomic-embed-text:latest",
    ]

    # chat, non-stream then stream
    reply = api.chat(model="llama3.1", messages=[{"role": "user", "content": "hi there"}])
    assert reply.message.content == "Echo: hi there" and reply.done
    assert fake_upstream.last("/api/chat").json["model"] == "llama3.1:latest"
    parts = list(
        api.chat(model="llama3.1", messages=[{"role": "user", "content": "stream me"}], stream=True)
    )
    assert len(parts) > 2
    assert "".join(p.message.content for p in parts) == "Echo: stream me"
    assert parts[-1].done and not parts[0].done

    # generate, non-stream then stream
    assert api.generate(model="qwen2.5:0.5b", prompt="why").response == "Echo: why"
    pieces = list(api.generate(model="qwen2.5:0.5b", prompt="why not", stream=True))
    assert "".join(p.response for p in pieces) == "Echo: why not" and pieces[-1].done

    # embed
    result = api.embed(model="nomic-embed-text", input=["one", "two"])
    assert len(result.embeddings) == 2 and len(result.embeddings[0]) == 64

    # errors keep their status
    with pytest.raises(ollama.ResponseError) as missing:
        api.chat(model="missing-model", messages=[{"role": "user", "content": "x"}])
    assert missing.value.status_code == 404
    stranger = ollama.Client(
        host=f"{live.url}/ollama", headers={"Authorization": "Bearer sk-wrong"}
    )
    with pytest.raises(ollama.ResponseError) as denied:
        stranger.list()
    assert denied.value.status_code == 401
