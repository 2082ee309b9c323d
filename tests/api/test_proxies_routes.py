"""`/openai/models` as Open WebUI lists it, and the remaining pass-through routes:
`/ollama/api/unload`, `/ollama/models/upload|download`, and model management on llama.cpp
connections (`/openai/models/{url_idx}/…`)."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.fakes.sse import events


@pytest.fixture
def settings(make_settings, fake_upstream):
    return make_settings(
        OPENAI_API_BASE_URLS=f"{fake_upstream.openai_url};{fake_upstream.openai_url}",
        OPENAI_API_KEYS="sk-fake-upstream;sk-second",
        OPENAI_API_CONFIGS=json.dumps(
            {"0": {"provider": "llama.cpp"}, "1": {"prefix_id": "two", "tags": ["lab"]}}
        ),
        OLLAMA_BASE_URLS=fake_upstream.ollama_url,
        MODELS_CACHE_TTL=0,
    )


def test_openai_models_lists_the_connections_models_not_presets(client, alice, bob):
    preset = {"id": "pirate", "name": "Pirate", "base_model_id": "gpt-4o-mini", "params": {}}
    assert client.post("/api/v1/models/create", json=preset, headers=alice.headers).is_success

    listed = client.get("/openai/models", headers=alice.headers).json()["data"]
    ids = [m["id"] for m in listed]
    assert ids == [
        "gpt-4-turbo",
        "gpt-4o-mini",
        "text-embedding-3-small",
        "two.gpt-4-turbo",
        "two.gpt-4o-mini",
        "two.text-embedding-3-small",
    ]
    first, prefixed = listed[1], listed[4]
    assert first["urlIdx"] == 0 and prefixed["urlIdx"] == 1
    assert first["owned_by"] == "openai" and first["connection_type"] == "external"
    assert first["openai"]["owned_by"] == "fake-openai" and first["created"] == 1700000000
    assert prefixed["tags"] == [{"name": "lab"}] and prefixed["name"] == "two.gpt-4o-mini"
    assert "tags" not in first and "actions" not in first
    # The preset is `/api/models`' business (and its owner's).
    api_ids = [m["id"] for m in client.get("/api/models", headers=alice.headers).json()["data"]]
    assert "pirate" in api_ids and "pirate" not in ids
    assert "pirate" not in [
        m["id"] for m in client.get("/openai/models", headers=bob.headers).json()["data"]
    ]


def test_openai_models_follows_access_rules(make_settings, make_client, fake_upstream):
    from tests.conftest import signup

    settings = make_settings(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        BYPASS_MODEL_ACCESS_CONTROL=False,
        MODELS_CACHE_TTL=0,
    )
    client = make_client(settings)
    admin = signup(client, "Admin")
    alice = signup(client, "Alice", admin=admin)
    assert client.get("/openai/models", headers=alice.headers).json()["data"] == []
    grant = {
        "id": "gpt-4o-mini",
        "name": "Mini",
        "params": {},
        "access_grants": [
            {"principal_type": "user", "principal_id": alice.id, "permission": "read"}
        ],
    }
    assert client.post("/api/v1/models/create", json=grant, headers=admin.headers).is_success
    listed = client.get("/openai/models", headers=alice.headers).json()["data"]
    # The connection's own entry (not the override's name), now that she may read it.
    assert [(m["id"], m["name"]) for m in listed] == [("gpt-4o-mini", "gpt-4o-mini")]
    assert len(client.get("/openai/models", headers=admin.headers).json()["data"]) == 3


def test_unload_drops_a_model_everywhere(client, admin, alice, fake_upstream):
    assert (
        client.post(
            "/ollama/api/unload", json={"model": "llama3.1"}, headers=alice.headers
        ).status_code
        == 401
    )
    resp = client.post("/ollama/api/unload", json={"model": "llama3.1"}, headers=admin.headers)
    assert resp.status_code == 200 and resp.json() == {"status": True}
    sent = fake_upstream.last("/api/generate").json
    assert sent == {"model": "llama3.1:latest", "keep_alive": 0, "prompt": "", "stream": False}

    unknown = client.post("/ollama/api/unload", json={"name": "nope"}, headers=admin.headers)
    assert unknown.status_code == 404 and unknown.json()["detail"] == "Model 'nope' was not found"
    assert client.post("/ollama/api/unload", json={}, headers=admin.headers).status_code == 422
    fake_upstream.fail(path="/api/generate", status=500, message="stuck")
    failed = client.post(
        "/ollama/api/unload", json={"model": "qwen2.5:0.5b"}, headers=admin.headers
    )
    assert failed.status_code == 502 and "stuck" in failed.json()["detail"]


def test_model_management_on_a_llama_cpp_connection(client, admin, alice, fake_upstream):
    assert client.get("/openai/models/0/catalog", headers=alice.headers).status_code == 401
    catalogue = client.get("/openai/models/0/catalog", headers=admin.headers)
    assert catalogue.status_code == 200
    assert {m["id"]: m["status"]["value"] for m in catalogue.json()["data"]}["gpt-4o-mini"] == (
        "unloaded"
    )
    assert fake_upstream.last("/models").headers["Authorization"] == "Bearer sk-fake-upstream"

    loaded = client.post(
        "/openai/models/0/load", json={"model": "gpt-4o-mini"}, headers=admin.headers
    )
    assert loaded.json() == {"success": True}
    assert fake_upstream.last("/models/load").json == {"model": "gpt-4o-mini"}
    unknown = client.post("/openai/models/0/load", json={"model": "nope"}, headers=admin.headers)
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]

    added = client.post(
        "/openai/models/0/download", json={"model": "tiny-q4"}, headers=admin.headers
    )
    assert added.status_code == 200
    assert client.post(
        "/openai/models/0/unload", json={"model": "gpt-4o-mini"}, headers=admin.headers
    ).json() == {"success": True}
    deleted = client.delete("/openai/models/0", params={"model": "tiny-q4"}, headers=admin.headers)
    assert deleted.status_code == 200 and deleted.json() == {"success": True}
    assert fake_upstream.last("/models").query == {"model": "tiny-q4"}

    with client.stream("GET", "/openai/models/0/sse", headers=admin.headers) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        states = {e["model"]: e["status"] for e in events(resp.read().decode())}
    assert states["gpt-4o-mini"] == "unloaded" and "tiny-q4" not in states

    # A connection without a management API, a job status llama.cpp has no route for, no index.
    plain = client.get("/openai/models/1/catalog", headers=admin.headers)
    assert (
        plain.status_code == 400 and "does not support model management" in plain.json()["detail"]
    )
    status = client.get("/openai/models/0/download/status/job-1", headers=admin.headers)
    assert status.status_code == 400 and "download_status" in status.json()["detail"]
    assert client.get("/openai/models/9/catalog", headers=admin.headers).status_code == 404
    assert client.post("/openai/models/0/load", json={}, headers=admin.headers).status_code == 422


def test_upload_a_model_file(client, admin, alice, fake_upstream):
    data = b"GGUF" + bytes(range(256)) * 20_000  # about 5 MB: several progress records
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    files = {"file": ("tiny-q4.gguf", data, "application/octet-stream")}
    assert (
        client.post("/ollama/models/upload", files=files, headers=alice.headers).status_code == 401
    )

    resp = client.post("/ollama/models/upload", files=files, headers=admin.headers)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    records = events(resp.text)
    progress = [r for r in records if "progress" in r]
    assert len(progress) >= 2 and progress[-1] == {
        "progress": 100.0,
        "completed": len(data),
        "total": len(data),
    }
    assert records[-1] == {
        "done": True,
        "blob": digest,
        "name": "tiny-q4.gguf",
        "model_created": "tiny-q4",
    }
    assert fake_upstream.state["blobs"][digest] == data
    assert fake_upstream.last("/api/create").json == {
        "model": "tiny-q4",
        "files": {"tiny-q4.gguf": digest},
        "stream": False,
    }

    fake_upstream.fail(path="/api/blobs", status=500, message="disk full")
    failed = client.post("/ollama/models/upload/0", files=files, headers=admin.headers)
    assert events(failed.text)[-1] == {"error": "disk full"}
    missing = client.post("/ollama/models/upload/3", files=files, headers=admin.headers)
    assert missing.status_code == 404


def test_download_only_from_allowed_sources(client, admin, alice, fake_upstream):
    body = {"url": "https://huggingface.co/org/repo/resolve/main/tiny.gguf"}
    assert (
        client.post("/ollama/models/download", json=body, headers=alice.headers).status_code == 401
    )
    for url in (f"{fake_upstream.url}/model.gguf", "https://huggingface.co.evil.example/x.gguf"):
        resp = client.post("/ollama/models/download", json={"url": url}, headers=admin.headers)
        assert resp.status_code == 400 and "allowed hosts" in resp.json()["detail"]
    no_file = client.post(
        "/ollama/models/download", json={"url": "https://github.com/"}, headers=admin.headers
    )
    assert no_file.status_code == 400 and no_file.json()["detail"] == "The URL names no file"
    assert not fake_upstream.requests
