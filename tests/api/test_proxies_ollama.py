"""`/ollama`: the Ollama API through Wayline, against the fake Ollama upstream."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def settings(gateway_settings):
    return gateway_settings


def lines(resp) -> list[dict]:
    return [json.loads(line) for line in resp.text.splitlines() if line.strip()]


def test_root_needs_no_credential(client):
    assert client.get("/ollama/").json() == {"status": True}
    assert client.head("/ollama/").status_code == 200
    assert client.get("/ollama").json() == {"status": True}


def test_needs_a_verified_user(client, admin):
    assert client.get("/ollama/api/tags").status_code == 401
    assert (
        client.post("/ollama/api/chat", json={"model": "llama3.1", "messages": []}).status_code
        == 401
    )


def test_tags_version_show(client, alice, fake_upstream):
    tags = client.get("/ollama/api/tags", headers=alice.headers).json()["models"]
    names = [t["name"] for t in tags]
    assert names == ["llama3.1:latest", "qwen2.5:0.5b", "nomic-embed-text:latest"]
    assert tags[0]["urls"] == [0] and tags[0]["details"]["format"] == "gguf"
    assert client.get("/ollama/api/version", headers=alice.headers).json() == {"version": "0.5.7"}
    show = client.post("/ollama/api/show", json={"model": "llama3.1"}, headers=alice.headers)
    assert show.status_code == 200 and show.json()["modelfile"] == "FROM llama3.1:latest"
    assert fake_upstream.last("/api/show").json == {"model": "llama3.1:latest"}


def test_chat_non_stream_and_stream(client, alice, fake_upstream):
    body = {
        "model": "llama3.1",
        "messages": [{"role": "user", "content": "hello there"}],
        "options": {"seed": 7},
    }
    resp = client.post("/ollama/api/chat", json={**body, "stream": False}, headers=alice.headers)
    assert resp.status_code == 200
    assert resp.json()["message"] == {"role": "assistant", "content": "Echo: hello there"}
    sent = fake_upstream.last("/api/chat").json
    assert sent == {
        **body,
        "model": "llama3.1:latest",
        "stream": False,
    }  # forwarded untouched but the name

    streamed = client.post(
        "/ollama/api/chat", json=body, headers=alice.headers
    )  # Ollama streams by default
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("application/x-ndjson")
    chunks = lines(streamed)
    assert "".join(c["message"]["content"] for c in chunks) == "Echo: hello there"
    assert chunks[-1]["done"] is True and all(not c["done"] for c in chunks[:-1])


def test_generate_embed_embeddings(client, alice, fake_upstream):
    gen = client.post(
        "/ollama/api/generate",
        json={"model": "qwen2.5:0.5b", "prompt": "why", "stream": False},
        headers=alice.headers,
    )
    assert gen.json()["response"] == "Echo: why"
    streamed = lines(
        client.post(
            "/ollama/api/generate",
            json={"model": "qwen2.5:0.5b", "prompt": "why"},
            headers=alice.headers,
        )
    )
    assert "".join(c["response"] for c in streamed) == "Echo: why" and streamed[-1]["done"]
    emb = client.post(
        "/ollama/api/embed",
        json={"model": "nomic-embed-text", "input": ["a", "b"]},
        headers=alice.headers,
    )
    assert emb.status_code == 200 and len(emb.json()["embeddings"]) == 2
    legacy = client.post(
        "/ollama/api/embeddings",
        json={"model": "nomic-embed-text", "prompt": "a"},
        headers=alice.headers,
    )
    assert legacy.status_code == 200 and len(legacy.json()["embedding"]) == 64


def test_unknown_model_and_bad_bodies(client, alice, fake_upstream):
    resp = client.post(
        "/ollama/api/chat", json={"model": "nope", "messages": []}, headers=alice.headers
    )
    assert resp.status_code == 404 and resp.json()["detail"] == "Model 'nope' was not found"
    assert (
        client.post("/ollama/api/chat", json={"messages": []}, headers=alice.headers).status_code
        == 422
    )
    assert client.post("/ollama/api/show", json={}, headers=alice.headers).status_code == 422
    assert (
        client.post("/ollama/api/embed", json={"model": "x"}, headers=alice.headers).status_code
        == 422
    )
    assert (
        client.post(
            "/ollama/api/chat",
            content=b"{",
            headers={**alice.headers, "Content-Type": "application/json"},
        ).status_code
        == 422
    )
    assert not fake_upstream.requests_to("/api/chat")


def test_upstream_error_is_relayed(client, alice, fake_upstream):
    fake_upstream.fail(
        model="llama3.1:latest", path="/api/chat", status=429, message="busy", retry_after=2
    )
    resp = client.post(
        "/ollama/api/chat",
        json={"model": "llama3.1", "messages": [], "stream": True},
        headers=alice.headers,
    )
    assert resp.status_code == 429 and resp.json()["detail"] == "busy"
    assert resp.headers["retry-after"] == "2"


def test_url_idx_variants(client, admin, alice, fake_upstream):
    resp = client.post(
        "/ollama/api/chat/0",
        json={"model": "llama3.1", "messages": [{"role": "user", "content": "x"}], "stream": False},
        headers=alice.headers,
    )
    assert resp.status_code == 200
    missing = client.post(
        "/ollama/api/chat/7", json={"model": "llama3.1", "messages": []}, headers=alice.headers
    )
    assert missing.status_code == 404 and "7" in missing.json()["detail"]
    assert client.get("/ollama/api/version/0", headers=alice.headers).json() == {"version": "0.5.7"}
    # Listing one connection is for admins.
    assert client.get("/ollama/api/tags/0", headers=alice.headers).status_code == 401
    assert len(client.get("/ollama/api/tags/0", headers=admin.headers).json()["models"]) == 3


def test_model_management_is_admin_only(client, admin, alice, fake_upstream):
    for method, path, body in (
        ("POST", "/ollama/api/pull", {"model": "llama3.2"}),
        ("POST", "/ollama/api/create", {"model": "mine", "from": "llama3.1"}),
        ("POST", "/ollama/api/copy", {"source": "llama3.1:latest", "destination": "copy"}),
        ("DELETE", "/ollama/api/delete", {"model": "llama3.1:latest"}),
        ("POST", "/ollama/api/push", {"model": "llama3.1:latest"}),
    ):
        assert client.request(method, path, json=body, headers=alice.headers).status_code == 401, (
            path
        )
    assert client.get("/ollama/api/ps", headers=alice.headers).status_code == 401
    assert not fake_upstream.requests

    pulled = client.post("/ollama/api/pull", json={"model": "llama3.2"}, headers=admin.headers)
    assert pulled.status_code == 200 and lines(pulled)[-1] == {"status": "success"}
    one = client.post(
        "/ollama/api/pull/0", json={"model": "llama3.2", "stream": False}, headers=admin.headers
    )
    assert one.json() == {"status": "success"}
    copy = client.post(
        "/ollama/api/copy",
        json={"source": "llama3.1", "destination": "copy"},
        headers=admin.headers,
    )
    assert copy.status_code == 200
    assert fake_upstream.last("/api/copy").json == {
        "source": "llama3.1:latest",
        "destination": "copy",
    }
    deleted = client.request(
        "DELETE", "/ollama/api/delete", json={"model": "llama3.1:latest"}, headers=admin.headers
    )
    assert deleted.status_code == 200 and fake_upstream.last("/api/delete").method == "DELETE"
    assert (
        client.get("/ollama/api/ps", headers=admin.headers).json()["models"][0]["name"]
        == "llama3.1:latest"
    )


def test_openai_compatible_v1(client, alice, fake_upstream):
    fake_upstream.openai_models.append("llama3.1:latest")  # the fake's /v1 routes serve it too
    models = client.get("/ollama/v1/models", headers=alice.headers).json()
    assert "llama3.1:latest" in [m["id"] for m in models["data"]]
    resp = client.post(
        "/ollama/v1/chat/completions",
        json={"model": "llama3.1", "messages": [{"role": "user", "content": "v1"}]},
        headers=alice.headers,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"] == "Echo: v1"
    assert fake_upstream.last("/v1/chat/completions").json["model"] == "llama3.1:latest"
    streamed = client.post(
        "/ollama/v1/chat/completions",
        json={"model": "llama3.1", "stream": True, "messages": [{"role": "user", "content": "v1"}]},
        headers=alice.headers,
    )
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.text.rstrip().endswith("data: [DONE]")
    emb = client.post(
        "/ollama/v1/embeddings",
        json={"model": "nomic-embed-text", "input": "x"},
        headers=alice.headers,
    )
    assert emb.status_code == 200 and emb.json()["data"][0]["embedding"]


def test_requests_are_spread_across_connections(make_settings, make_client, fake_upstream):
    """Two connections serving the same models (the fake under two host names): both get traffic."""
    from tests.conftest import signup

    second = fake_upstream.url.replace("127.0.0.1", "localhost")
    client = make_client(
        make_settings(OLLAMA_BASE_URLS=f"{fake_upstream.url};{second}", MODELS_CACHE_TTL=0)
    )
    user = signup(client, "Admin")
    tags = client.get("/ollama/api/tags", headers=user.headers).json()["models"]
    assert tags[0]["urls"] == [0, 1]
    for _ in range(24):
        r = client.post(
            "/ollama/api/generate",
            json={"model": "llama3.1", "prompt": "x", "stream": False},
            headers=user.headers,
        )
        assert r.status_code == 200
    hosts = {r.headers["Host"].split(":")[0] for r in fake_upstream.requests_to("/api/generate")}
    assert hosts == {"127.0.0.1", "localhost"}


def test_prefix_id_is_mapped(make_settings, make_client, fake_upstream):
    from tests.conftest import signup

    client = make_client(
        make_settings(
            OLLAMA_BASE_URLS=fake_upstream.url,
            OLLAMA_API_CONFIGS='{"0": {"prefix_id": "lab"}}',
            MODELS_CACHE_TTL=0,
        )
    )
    user = signup(client, "Admin")
    names = [
        t["name"] for t in client.get("/ollama/api/tags", headers=user.headers).json()["models"]
    ]
    assert "lab.llama3.1:latest" in names
    resp = client.post(
        "/ollama/api/chat",
        json={"model": "lab.llama3.1:latest", "messages": [], "stream": False},
        headers=user.headers,
    )
    assert resp.status_code == 200
    assert fake_upstream.last("/api/chat").json["model"] == "llama3.1:latest"


def test_without_connections(make_settings, make_client):
    from tests.conftest import signup

    client = make_client(make_settings())
    user = signup(client, "Admin")
    assert client.get("/ollama/api/tags", headers=user.headers).json() == {"models": []}
    assert client.get("/ollama/api/version", headers=user.headers).json() == {"version": False}
    assert (
        client.post(
            "/ollama/api/chat", json={"model": "x", "messages": []}, headers=user.headers
        ).status_code
        == 404
    )


def test_unforwardable_json_is_400(client, alice, fake_upstream):
    body = (
        '{"model": "llama3.1", "messages": [], "stream": false, '
        '"options": {"seed": 1278267783256052319434389323776}}'
    )
    resp = client.post(
        "/ollama/api/chat",
        content=body,
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert resp.status_code == 400 and "JSON" in resp.json()["detail"]
    body = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "\\udc00"}]}'
    resp = client.post(
        "/openai/chat/completions",
        content=body,
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert resp.status_code == 400


def test_config_update_switches_connections(client, admin, alice, fake_upstream):
    assert client.get("/ollama/config", headers=alice.headers).status_code == 401
    cfg = client.get("/ollama/config", headers=admin.headers).json()
    assert cfg == {
        "ENABLE_OLLAMA_API": True,
        "OLLAMA_BASE_URLS": [fake_upstream.ollama_url],
        "OLLAMA_API_CONFIGS": {},
    }
    bad = client.post(
        "/ollama/config/update", json={**cfg, "OLLAMA_BASE_URLS": ["nope"]}, headers=admin.headers
    )
    assert bad.status_code == 400 and "OLLAMA_BASE_URLS" in bad.json()["detail"]

    second = fake_upstream.url.replace("127.0.0.1", "localhost")
    ok = client.post(
        "/ollama/config/update",
        json={**cfg, "OLLAMA_BASE_URLS": [fake_upstream.url, second + "/"]},
        headers=admin.headers,
    )
    assert ok.status_code == 200 and ok.json()["OLLAMA_BASE_URLS"] == [fake_upstream.url, second]
    assert client.get("/ollama/api/tags", headers=alice.headers).json()["models"][0]["urls"] == [
        0,
        1,
    ]

    off = client.post(
        "/ollama/config/update", json={**cfg, "ENABLE_OLLAMA_API": False}, headers=admin.headers
    )
    assert off.status_code == 200
    assert client.get("/ollama/api/tags", headers=alice.headers).json() == {"models": []}
    assert (
        client.post(
            "/ollama/api/chat", json={"model": "llama3.1", "messages": []}, headers=alice.headers
        ).status_code
        == 404
    )


def test_access_control_applies(make_settings, make_client, fake_upstream):
    """With BYPASS_MODEL_ACCESS_CONTROL=false a user sees and calls only models granted to them."""
    from tests.conftest import signup

    client = make_client(
        make_settings(
            OLLAMA_BASE_URLS=fake_upstream.url,
            OPENAI_API_BASE_URLS="",
            BYPASS_MODEL_ACCESS_CONTROL=False,
            MODELS_CACHE_TTL=0,
        )
    )
    admin = signup(client, "Admin")
    user = signup(client, "Alice", admin=admin)
    assert len(client.get("/ollama/api/tags", headers=admin.headers).json()["models"]) == 3
    assert client.get("/ollama/api/tags", headers=user.headers).json() == {"models": []}
    assert client.get("/ollama/v1/models", headers=user.headers).json()["data"] == []
    denied = client.post(
        "/ollama/api/chat",
        json={"model": "llama3.1", "messages": [], "stream": False},
        headers=user.headers,
    )
    assert denied.status_code == 404
    assert not fake_upstream.requests_to("/api/chat")


def test_verify_a_connection(client, admin, alice, fake_upstream):
    assert (
        client.post(
            "/ollama/verify", json={"url": fake_upstream.url}, headers=alice.headers
        ).status_code
        == 401
    )
    ok = client.post("/ollama/verify", json={"url": fake_upstream.url}, headers=admin.headers)
    assert ok.status_code == 200 and ok.json() == {"version": "0.5.7"}
    assert (
        client.post(
            "/ollama/verify", json={"url": "file:///etc"}, headers=admin.headers
        ).status_code
        == 422
    )
