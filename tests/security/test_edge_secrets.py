"""Issue 16, defect 11: secrets in answers. Upstream URL credentials never reach an answer or
a log, a key goes only to the host it belongs to, and a URL with `user:password@` plus an
API key works (the key wins) instead of answering a bare 500."""

from __future__ import annotations

import base64
import logging

import pytest

from tests.conftest import free_port, signup
from tests.fakes.media import png_for

SECRET = "s3cret-pw"
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def with_credentials(url: str, user: str = "gw", password: str = SECRET) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest}"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_url_credentials_never_appear_in_error_details_or_logs(make_settings, make_client, caplog):
    dead = with_credentials(
        f"http://127.0.0.1:{free_port()}/v1", password=f"p@{SECRET}"
    )  # `@` in a password too
    client = make_client(
        make_settings(
            OPENAI_API_BASE_URLS=dead, OPENAI_API_CONFIGS='{"0": {"model_ids": ["ghost"]}}'
        )
    )
    admin = signup(client, "Admin")
    caplog.set_level(logging.DEBUG)
    for stream in (False, True):
        resp = client.post(
            "/api/chat/completions",
            headers=admin.headers,
            json={**CHAT, "model": "ghost", "stream": stream},
        )
        assert resp.status_code == 502, resp.text
        assert "unreachable" in resp.json()["detail"] and "127.0.0.1" in resp.json()["detail"]
        assert SECRET not in resp.text and "gw:" not in resp.text
    # The pass-through APIs and an admin's own connection check say the same, without the password.
    for path in ("/openai/models/0", "/openai/chat/completions"):
        body = {**CHAT, "model": "ghost"} if path.endswith("completions") else None
        resp = client.request("POST" if body else "GET", path, headers=admin.headers, json=body)
        assert resp.status_code == 502 and SECRET not in resp.text, resp.text
    verify = client.post("/openai/verify", headers=admin.headers, json={"url": dead, "key": ""})
    assert (
        verify.status_code == 400
        and SECRET not in verify.text
        and "***@127.0.0.1" in verify.json()["detail"]
    )
    assert not [r for r in caplog.records if SECRET in r.getMessage()]


def test_url_credentials_are_sent_as_basic_auth_when_there_is_no_key(
    make_settings, make_client, fake_upstream
):
    client = make_client(
        make_settings(
            OLLAMA_BASE_URLS=with_credentials(fake_upstream.ollama_url, "ollama", "pw:1"),
            MODELS_CACHE_TTL=0,
        )
    )
    admin = signup(client, "Admin")
    resp = client.post(
        "/api/chat/completions", headers=admin.headers, json={**CHAT, "model": "llama3.1"}
    )
    assert resp.status_code == 200, resp.text
    for path in ("/api/tags", "/api/chat"):
        assert fake_upstream.last(path).headers["Authorization"] == basic("ollama", "pw:1")
    tags = client.get("/ollama/api/tags", headers=admin.headers)
    assert tags.status_code == 200 and "pw:1" not in tags.text


def test_api_key_wins_over_url_credentials_instead_of_a_500(
    make_settings, make_client, fake_upstream
):
    url = with_credentials(fake_upstream.openai_url)
    client = make_client(
        make_settings(OPENAI_API_BASE_URLS=url, OPENAI_API_KEYS="sk-explicit", MODELS_CACHE_TTL=0)
    )
    admin = signup(client, "Admin")
    listed = client.get("/api/models", headers=admin.headers)
    assert listed.status_code == 200 and "gpt-4-turbo" in {m["id"] for m in listed.json()["data"]}
    resp = client.post(
        "/api/chat/completions", headers=admin.headers, json={**CHAT, "model": "gpt-4-turbo"}
    )
    assert resp.status_code == 200, resp.text
    assert (
        fake_upstream.last("/v1/chat/completions").headers["Authorization"] == "Bearer sk-explicit"
    )
    # Speech on the same connection, and an admin's check of such a URL, behave the same way.
    speech = client.post(
        "/openai/audio/speech", headers=admin.headers, json={"model": "tts-1", "input": "hello"}
    )
    assert speech.status_code == 200, speech.text
    assert fake_upstream.last("/v1/audio/speech").headers["Authorization"] == "Bearer sk-explicit"
    verify = client.post(
        "/openai/verify", headers=admin.headers, json={"url": url, "key": "sk-check"}
    )
    assert verify.status_code == 200, verify.text
    assert fake_upstream.last("/v1/models").headers["Authorization"] == "Bearer sk-check"


@pytest.mark.parametrize("engine_host, gets_key", [("localhost", False), ("127.0.0.1", True)])
def test_image_urls_are_fetched_with_the_key_only_from_the_engines_own_host(
    make_settings,
    make_client,
    fake_upstream,
    engine_host,
    gets_key,
):
    # The fake answers image URLs on 127.0.0.1; an engine configured as `localhost` is another
    # origin (same machine, different host name), exactly what a CDN URL looks like.
    base = fake_upstream.openai_url.replace("127.0.0.1", engine_host)
    client = make_client(
        make_settings(
            ENABLE_IMAGE_GENERATION=True,
            IMAGES_OPENAI_API_BASE_URL=base,
            IMAGES_OPENAI_API_KEY="sk-images",
        )
    )
    admin = signup(client, "Admin")
    client.post(
        "/api/v1/images/config/update",
        json={"IMAGES_OPENAI_API_PARAMS": {"response_format": "url"}},
        headers=admin.headers,
    )
    resp = client.post(
        "/api/v1/images/generations", json={"prompt": "a fox"}, headers=admin.headers
    )
    assert resp.status_code == 200, resp.text
    assert (
        fake_upstream.last("/v1/images/generations").headers["Authorization"] == "Bearer sk-images"
    )
    fetch = next(r for r in fake_upstream.requests if r.path.startswith("/v1/images/files/"))
    assert ("Authorization" in fetch.headers) is gets_key
    if gets_key:
        assert fetch.headers["Authorization"] == "Bearer sk-images"
    [image] = resp.json()
    assert client.get(image["url"], headers=admin.headers).content == png_for("a fox", 0)


def test_settings_holding_credentials_are_readable_by_admins_only(
    make_settings, make_client, fake_upstream
):
    client = make_client(
        make_settings(
            OPENAI_API_BASE_URLS=with_credentials(fake_upstream.openai_url),
            OPENAI_API_KEYS="sk-hidden-key",
            OLLAMA_BASE_URLS=with_credentials(fake_upstream.ollama_url),
            MODELS_CACHE_TTL=0,
            IMAGES_OPENAI_API_BASE_URL=with_credentials(fake_upstream.openai_url),
            IMAGES_OPENAI_API_KEY="sk-hidden-key",
            AUDIO_TTS_OPENAI_API_BASE_URL=with_credentials(fake_upstream.openai_url),
            AUDIO_TTS_OPENAI_API_KEY="sk-hidden-key",
        )
    )
    admin = signup(client, "Admin")
    alice = signup(client, "Alice", admin=admin)
    configs = (
        "/openai/config",
        "/ollama/config",
        "/api/v1/images/config",
        "/api/v1/audio/config",
        "/api/v1/retrieval/config",
        "/api/v1/retrieval/embedding",
    )
    for path in configs:
        resp = client.get(path, headers=alice.headers)
        assert resp.status_code == 401, path
        assert SECRET not in resp.text and "sk-hidden-key" not in resp.text
    # What a non-admin can read about the connections names no credential.
    for path in (
        "/api/models",
        "/api/v1/models",
        "/ollama/api/tags",
        "/openai/models",
        "/ollama/v1/models",
        "/api/config",
        "/api/v1/images/models",
        "/api/v1/audio/models",
    ):
        resp = client.get(path, headers=alice.headers)
        assert resp.status_code == 200, (path, resp.text)
        assert SECRET not in resp.text and "sk-hidden-key" not in resp.text, path
    assert client.get("/openai/config", headers=admin.headers).status_code == 200
