"""`/openai`: the OpenAI API through Wayline (official SDK included), config, opt-in
pass-through."""

from __future__ import annotations

import openai
import pytest


@pytest.fixture
def settings(gateway_settings):
    return gateway_settings


def sdk(client, account) -> openai.OpenAI:
    # The TestClient is an httpx.Client, so the SDK talks to the real app in-process.
    return openai.OpenAI(
        base_url=f"{client.base_url}/openai",
        api_key=account.api_key,
        http_client=client,
        max_retries=0,
    )


def test_models(client, alice):
    ids = [m.id for m in sdk(client, alice).models.list()]
    assert ids[:3] == ["gpt-4-turbo", "gpt-4o-mini", "text-embedding-3-small"]
    assert client.get("/openai/models").status_code == 401


def test_chat_with_the_official_sdk(client, alice, fake_upstream):
    api = sdk(client, alice)
    done = api.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "ping"}], temperature=0.2
    )
    assert done.choices[0].message.content == "Echo: ping"
    sent = fake_upstream.last("/v1/chat/completions")
    assert (
        sent.json["temperature"] == 0.2
        and sent.headers["Authorization"] == "Bearer sk-fake-upstream"
    )
    stream = api.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "pong"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Echo: pong"


def test_embeddings(client, alice):
    result = sdk(client, alice).embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(result.data) == 2 and len(result.data[0].embedding) == 64


def test_unknown_model_and_bad_body(client, alice):
    with pytest.raises(openai.NotFoundError):
        sdk(client, alice).chat.completions.create(
            model="nope", messages=[{"role": "user", "content": "x"}]
        )
    assert (
        client.post(
            "/openai/chat/completions", json={"model": "gpt-4o-mini"}, headers=alice.headers
        ).status_code
        == 422
    )
    assert (
        client.post("/openai/embeddings", json={"input": "x"}, headers=alice.headers).status_code
        == 422
    )


def test_upstream_error_relayed(client, alice, fake_upstream):
    fake_upstream.fail(model="gpt-4o-mini", status=429, message="quota", retry_after=5)
    with pytest.raises(openai.RateLimitError) as caught:
        sdk(client, alice).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.response.headers["retry-after"] == "5"


def test_passthrough_is_off_by_default(client, alice, fake_upstream):
    resp = client.post("/openai/images/generations", json={"prompt": "x"}, headers=alice.headers)
    assert resp.status_code == 403
    assert "ENABLE_OPENAI_API_PASSTHROUGH" in resp.json()["detail"]
    assert not fake_upstream.requests_to("/v1/images/generations")


def test_passthrough_when_enabled(make_settings, make_client, fake_upstream):
    from tests.conftest import signup

    client = make_client(
        make_settings(
            OPENAI_API_BASE_URLS=fake_upstream.openai_url,
            OPENAI_API_KEYS="sk-up",
            ENABLE_OPENAI_API_PASSTHROUGH=True,
        )
    )
    user = signup(client, "Admin")
    assert client.post("/openai/images/generations", json={"prompt": "x"}).status_code == 401
    resp = client.post("/openai/images/generations", json={"prompt": "x"}, headers=user.headers)
    assert resp.status_code == 200 and "b64_json" in resp.json()["data"][0]
    sent = fake_upstream.last("/v1/images/generations")
    assert (
        sent.headers["Authorization"] == "Bearer sk-up"
    )  # the connection's key, never the caller's
    assert client.get("/openai/nowhere", headers=user.headers).status_code == 404
    assert client.get("/openai/a/../../secret", headers=user.headers).status_code in (400, 404)


def test_config_update_switches_connections(client, admin, alice, fake_upstream):
    assert client.get("/openai/config", headers=alice.headers).status_code == 401
    cfg = client.get("/openai/config", headers=admin.headers).json()
    assert cfg == {
        "ENABLE_OPENAI_API": True,
        "OPENAI_API_BASE_URLS": [fake_upstream.openai_url],
        "OPENAI_API_KEYS": ["sk-fake-upstream"],
        "OPENAI_API_CONFIGS": {},
    }
    bad = client.post(
        "/openai/config/update",
        json={**cfg, "OPENAI_API_BASE_URLS": ["ftp://x"]},
        headers=admin.headers,
    )
    assert bad.status_code == 400 and "OPENAI_API_BASE_URLS" in bad.json()["detail"]

    prefixed = {
        **cfg,
        "OPENAI_API_KEYS": ["sk-new"],
        "OPENAI_API_CONFIGS": {"0": {"prefix_id": "up"}},
    }
    ok = client.post("/openai/config/update", json=prefixed, headers=admin.headers)
    assert ok.status_code == 200 and ok.json()["OPENAI_API_KEYS"] == ["sk-new"]
    ids = [m["id"] for m in client.get("/openai/models", headers=alice.headers).json()["data"]]
    assert "up.gpt-4o-mini" in ids
    resp = client.post(
        "/openai/chat/completions",
        json={"model": "up.gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
        headers=alice.headers,
    )
    assert resp.status_code == 200
    sent = fake_upstream.last("/v1/chat/completions")
    assert sent.json["model"] == "gpt-4o-mini" and sent.headers["Authorization"] == "Bearer sk-new"

    off = client.post(
        "/openai/config/update", json={**cfg, "ENABLE_OPENAI_API": False}, headers=admin.headers
    )
    assert off.status_code == 200
    assert client.get("/openai/models", headers=alice.headers).json()["data"] == []


def test_config_survives_a_restart(client, admin, make_client, settings):
    cfg = client.get("/openai/config", headers=admin.headers).json()
    ok = client.post(
        "/openai/config/update",
        json={**cfg, "OPENAI_API_CONFIGS": {"0": {"prefix_id": "kept"}}},
        headers=admin.headers,
    )
    assert ok.status_code == 200
    restarted = make_client(settings)  # a second app (worker) on the same database
    ids = [m["id"] for m in restarted.get("/openai/models", headers=admin.headers).json()["data"]]
    assert "kept.gpt-4o-mini" in ids


def test_audio_speech_through_the_connection(client, alice, fake_upstream):
    from tests.fakes.media import wav_for

    body = {"model": "tts-1", "input": "read me", "voice": "echo"}
    first = client.post("/openai/audio/speech", json=body, headers=alice.headers)
    assert first.status_code == 200 and first.content == wav_for("read me")
    assert (
        fake_upstream.last("/v1/audio/speech").headers["Authorization"] == "Bearer sk-fake-upstream"
    )
    again = client.post("/openai/audio/speech", json=body, headers=alice.headers)
    assert again.content == first.content
    assert len(fake_upstream.requests_to("/v1/audio/speech")) == 1  # cached by body hash
    assert (
        client.post("/openai/audio/speech", json={"voice": "x"}, headers=alice.headers).status_code
        == 422
    )


def test_verify_a_connection(client, admin, alice, fake_upstream):
    assert (
        client.post(
            "/openai/verify", json={"url": fake_upstream.openai_url}, headers=alice.headers
        ).status_code
        == 401
    )
    ok = client.post(
        "/openai/verify",
        json={"url": fake_upstream.openai_url, "key": "sk-x"},
        headers=admin.headers,
    )
    assert ok.status_code == 200 and ok.json()["data"][0]["id"] == "gpt-4-turbo"
    assert fake_upstream.last("/v1/models").headers["Authorization"] == "Bearer sk-x"
    from tests.conftest import free_port

    dead = client.post(
        "/openai/verify", json={"url": f"http://127.0.0.1:{free_port()}/v1"}, headers=admin.headers
    )
    assert dead.status_code == 400 and "failed" in dead.json()["detail"]
    assert (
        client.post("/openai/verify", json={"url": "http://"}, headers=admin.headers).status_code
        == 400
    )


def test_config_update_reaches_every_worker(make_settings, make_client, fake_upstream):
    """Two workers sharing the database and Redis: a change through one is applied by the other."""
    import time
    import uuid

    from tests.conftest import signup

    shared = dict(
        REDIS_URL="redis://127.0.0.1:6379/0",
        REDIS_KEY_PREFIX=f"wl-test-{uuid.uuid4().hex[:8]}",
        UVICORN_WORKERS=2,
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        MODELS_CACHE_TTL=60,
    )
    worker_a = make_client(make_settings(**shared))
    worker_b = make_client(make_settings(**shared))
    admin = signup(worker_a, "Admin")
    assert "gpt-4o-mini" in [
        m["id"] for m in worker_b.get("/openai/models", headers=admin.headers).json()["data"]
    ]
    cfg = worker_a.get("/openai/config", headers=admin.headers).json()
    update = {**cfg, "OPENAI_API_CONFIGS": {"0": {"prefix_id": "moved"}}}
    assert (
        worker_a.post("/openai/config/update", json=update, headers=admin.headers).status_code
        == 200
    )
    for _ in range(100):  # the message arrives asynchronously, far within the model-list TTL
        ids = [
            m["id"] for m in worker_b.get("/openai/models", headers=admin.headers).json()["data"]
        ]
        if "moved.gpt-4o-mini" in ids:
            break
        time.sleep(0.02)
    assert "moved.gpt-4o-mini" in ids and "gpt-4o-mini" not in ids
