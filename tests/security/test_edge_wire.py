"""Issue 16, defect 15: wire gaps against Open WebUI 0.12.4. `/api/models` items carry
`actions`, `filters`, `loaded`, `ollama.connection_type`, `ollama.expires_at` and
`openai.connection_type`; RAG `sources[].metadata[]` carry `content_type`, `file_hash`, `size`."""

from __future__ import annotations

import hashlib

import pytest

from tests.api.test_retrieval import upload

# The fake's /api/ps lists its first Ollama model, expiring 2099-01-01T00:00:00Z.
EXPIRES_2099 = 4070908800
PIPE = """
class Pipe:
    def pipe(self, body: dict) -> str:
        return "piped"
"""


@pytest.fixture
def settings(make_settings, fake_upstream):
    return make_settings(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake-upstream",
        OLLAMA_BASE_URLS=fake_upstream.ollama_url,
        MODELS_CACHE_TTL=0,
        OLLAMA_API_CONFIGS='{"0": {"connection_type": "external"}}',
    )


def test_model_items_carry_open_webuis_fields(client, admin, alice):
    assert (
        client.post(
            "/api/v1/functions/create",
            headers=admin.headers,
            json={"id": "echo", "name": "Echo", "content": PIPE, "meta": {"description": ""}},
        ).status_code
        == 200
    )
    assert client.post("/api/v1/functions/id/echo/toggle", headers=admin.headers).status_code == 200
    preset = {
        "id": "warm-llama",
        "base_model_id": "llama3.1:latest",
        "name": "Warm",
        "params": {},
        "meta": {},
    }
    assert (
        client.post("/api/v1/models/create", headers=alice.headers, json=preset).status_code == 200
    )

    models = {m["id"]: m for m in client.get("/api/models", headers=alice.headers).json()["data"]}
    for item in models.values():
        assert item["actions"] == [] and item["filters"] == [], item[
            "id"
        ]  # no Action/Filter runs here
    assert models["gpt-4-turbo"]["openai"]["connection_type"] == "external"
    assert (
        models["gpt-4-turbo"]["openai"]["id"] == "gpt-4-turbo"
    )  # the upstream's own object otherwise

    loaded, idle = models["llama3.1:latest"], models["qwen2.5:0.5b"]
    assert loaded["loaded"] is True and loaded["ollama"]["expires_at"] == EXPIRES_2099
    assert idle["loaded"] is False and "expires_at" not in idle["ollama"]
    assert (
        loaded["ollama"]["connection_type"] == idle["ollama"]["connection_type"] == "external"
    )  # the connection's
    assert models["warm-llama"]["loaded"] is True  # a preset says whether its base model is loaded
    assert "echo" in models

    # Ollama's own listing through Wayline says the same.
    tags = {
        t["name"]: t for t in client.get("/ollama/api/tags", headers=alice.headers).json()["models"]
    }
    assert (
        tags["llama3.1:latest"]["expires_at"] == EXPIRES_2099
        and tags["llama3.1:latest"]["connection_type"] == "external"
    )


def test_rag_source_metadata_names_the_files_type_size_and_hash(client, alice):
    text = "Project Marmalade's launch code is PLUM-7741-ORCHID."
    file_id = upload(client, alice, "secrets.txt", text)["id"]
    for item in (
        {"type": "file", "id": file_id},
        {"type": "file", "id": file_id, "context": "full"},
    ):
        resp = client.post(
            "/api/chat/completions",
            headers=alice.headers,
            json={
                "model": "gpt-4-turbo",
                "messages": [{"role": "user", "content": "What is the launch code?"}],
                "files": [item],
            },
        )
        assert resp.status_code == 200, resp.text
        [source] = resp.json()["sources"]
        assert source["metadata"], item
        for meta in source["metadata"]:
            assert meta["file_id"] == file_id and meta["name"] == "secrets.txt"
            assert meta["content_type"] == "text/plain" and meta["size"] == len(text.encode())
            assert meta["file_hash"] == hashlib.sha256(text.encode()).hexdigest()
