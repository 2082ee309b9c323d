"""Open WebUI's top-level `/api/...` routes beyond chat: base models, unload, update check."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.fakes.upstream import FakeUpstream
from wayline import __version__
from wayline.core.settings import Settings


@pytest.fixture
def settings(gateway_settings: Settings) -> Settings:
    return gateway_settings


def _preset(client: TestClient, owner: Account, model_id: str, base: str) -> None:
    form = {"id": model_id, "name": model_id, "base_model_id": base, "meta": {}, "params": {}}
    resp = client.post("/api/v1/models/create", headers=owner.headers, json=form)
    assert resp.status_code == 200, resp.text


def test_base_models_lists_the_connections_models_without_presets(
    client: TestClient, admin: Account, alice: Account
) -> None:
    _preset(client, admin, "pirate", "gpt-4-turbo")
    resp = client.get("/api/models/base", headers=admin.headers)
    assert resp.status_code == 200, resp.text
    ids = {m["id"] for m in resp.json()["data"]}
    assert {"gpt-4-turbo", "gpt-4o-mini", "llama3.1:latest", "qwen2.5:0.5b"} <= ids
    assert "pirate" not in ids
    refused = client.get("/api/models/base", headers=alice.headers)
    assert refused.status_code in (401, 403) and "detail" in refused.json()


def test_unload_sends_ollama_a_zero_keep_alive_for_the_model_or_a_presets_base(
    client: TestClient, admin: Account, fake_upstream: FakeUpstream
) -> None:
    resp = client.post("/api/models/unload", headers=admin.headers, json={"model": "qwen2.5:0.5b"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"status": True}
    sent = fake_upstream.last("/api/generate").json
    assert sent["model"] == "qwen2.5:0.5b" and sent["keep_alive"] == 0

    _preset(client, admin, "tiny", "llama3.1:latest")
    resp = client.post("/api/models/unload", headers=admin.headers, json={"model": "tiny"})
    assert resp.status_code == 200, resp.text
    assert fake_upstream.last("/api/generate").json["model"] == "llama3.1:latest"


def test_unload_refuses_what_it_cannot_unload(
    client: TestClient, admin: Account, alice: Account, fake_upstream: FakeUpstream
) -> None:
    unknown = client.post("/api/models/unload", headers=admin.headers, json={"model": "nope"})
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    # A plain OpenAI-compatible connection has no model management API (Open WebUI: 400).
    plain = client.post("/api/models/unload", headers=admin.headers, json={"model": "gpt-4o-mini"})
    assert plain.status_code == 400 and "does not support" in plain.json()["detail"]
    missing = client.post("/api/models/unload", headers=admin.headers, json={})
    assert missing.status_code == 422 and "model" in str(missing.json()["detail"])
    user = client.post("/api/models/unload", headers=alice.headers, json={"model": "qwen2.5:0.5b"})
    assert user.status_code in (401, 403)
    assert fake_upstream.requests_to("/api/generate") == []


def test_version_updates_answers_the_running_version_without_calling_out(
    client: TestClient, alice: Account
) -> None:
    resp = client.get("/api/version/updates", headers=alice.headers)
    assert resp.status_code == 200
    assert resp.json() == {"current": __version__, "latest": __version__}
    assert client.get("/api/version/updates").status_code == 401
