"""`GET /api/models` and workspace models, against the fake OpenAI + Ollama upstream."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account, free_port, signup
from tests.fakes.upstream import FakeUpstream
from wayline.core.settings import Settings


@pytest.fixture
def settings(gateway_settings: Settings) -> Settings:
    return gateway_settings


def ids(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [m["id"] for m in resp.json()["data"]]


def test_seed_model_list_with_api_key_and_jwt(client: TestClient, alice: Account) -> None:
    for headers in (alice.headers, alice.jwt_headers):
        resp = client.get("/api/models", headers=headers)
        assert ids(resp) == [
            "gpt-4-turbo",
            "gpt-4o-mini",
            "text-embedding-3-small",
            "llama3.1:latest",
            "qwen2.5:0.5b",
            "nomic-embed-text:latest",
        ]
        assert "object" not in resp.json()  # Open WebUI's shape: {"data": [...]} only
    models = {
        m["id"]: m for m in client.get("/api/v1/models", headers=alice.headers).json()["data"]
    }
    gpt, llama = models["gpt-4-turbo"], models["llama3.1:latest"]
    assert (
        gpt["owned_by"] == "openai" and gpt["connection_type"] == "external" and gpt["urlIdx"] == 0
    )
    assert (
        gpt["openai"]["id"] == "gpt-4-turbo"
        and gpt["object"] == "model"
        and gpt["name"] == "gpt-4-turbo"
    )
    assert llama["owned_by"] == "ollama" and llama["connection_type"] == "local"
    assert llama["ollama"]["urls"] == [0] and llama["ollama"]["details"]["family"] == "llama3.1"


def test_model_list_needs_credentials(client: TestClient) -> None:
    assert client.get("/api/models").status_code == 401


def test_the_api_key_is_sent_upstream(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    ids(client.get("/api/models", headers=alice.headers))
    assert fake_upstream.last("/v1/models").headers["Authorization"] == "Bearer sk-fake-upstream"


def test_dead_upstream_does_not_hide_the_live_ones(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    fake_upstream.fail(path="/v1/models", mode="hang")  # and the fake's OpenAI side never answers
    client = make_client(
        make_settings(
            OPENAI_API_BASE_URLS=f"{dead};{fake_upstream.openai_url}",
            OPENAI_API_KEYS="a;b",
            OLLAMA_BASE_URLS=fake_upstream.ollama_url,
            MODEL_LIST_TIMEOUT=0.5,
            MODELS_CACHE_TTL=0,
        )
    )
    admin = signup(client, "Admin")
    for _ in range(3):
        assert ids(client.get("/api/models", headers=admin.headers)) == [
            "llama3.1:latest",
            "qwen2.5:0.5b",
            "nomic-embed-text:latest",
        ]


def test_last_known_good_list_survives_an_upstream_failure(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    assert "gpt-4o-mini" in ids(client.get("/api/models", headers=alice.headers))
    fake_upstream.fail(path="/v1/models", status=500)
    assert "gpt-4o-mini" in ids(client.get("/api/models?refresh=true", headers=alice.headers))


def test_cache_ttl_and_refresh(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> None:
    client = make_client(
        make_settings(OPENAI_API_BASE_URLS=fake_upstream.openai_url, MODELS_CACHE_TTL=3600)
    )
    admin = signup(client, "Admin")
    assert ids(client.get("/api/models", headers=admin.headers)) == [
        "gpt-4-turbo",
        "gpt-4o-mini",
        "text-embedding-3-small",
    ]
    fake_upstream.openai_models = ["gpt-new"]
    assert "gpt-new" not in ids(client.get("/api/models", headers=admin.headers))  # cached
    assert ids(client.get("/api/models?refresh=true", headers=admin.headers)) == ["gpt-new"]


def test_connection_config_prefix_model_ids_tags_and_disable(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> None:
    client = make_client(
        make_settings(
            OPENAI_API_BASE_URLS=f"{fake_upstream.openai_url};{fake_upstream.openai_url}",
            OPENAI_API_CONFIGS='{"0": {"prefix_id": "work", "model_ids": ["gpt-4o-mini"], '
            '"tags": [{"name": "paid"}]}, "1": {"enable": false}}',
            OLLAMA_BASE_URLS=fake_upstream.ollama_url,
            ENABLE_OLLAMA_API=False,
        )
    )
    admin = signup(client, "Admin")
    models = client.get("/api/models", headers=admin.headers).json()["data"]
    assert [m["id"] for m in models] == ["work.gpt-4o-mini"]
    assert models[0]["tags"] == [{"name": "paid"}]
    resp = client.post(
        "/api/chat/completions",
        headers=admin.headers,
        json={"model": "work.gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status_code == 200, resp.text
    assert fake_upstream.last("/v1/chat/completions").json["model"] == "gpt-4o-mini"


PRESET = {
    "id": "pirate",
    "base_model_id": "gpt-4-turbo",
    "name": "Pirate",
    "params": {"system": "Talk like a pirate.", "temperature": 0.1},
    "meta": {"description": "Arr", "tags": [{"name": "fun"}]},
}


def test_preset_crud_and_chat_applies_its_params(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    resp = client.post("/api/v1/models/create", headers=alice.headers, json=PRESET)
    assert resp.status_code == 200, resp.text
    assert resp.json()["user_id"] == alice.id and resp.json()["is_active"] is True

    listed = {m["id"]: m for m in client.get("/api/models", headers=alice.headers).json()["data"]}
    preset = listed["pirate"]
    assert (
        preset["preset"] is True and preset["owned_by"] == "openai" and preset["name"] == "Pirate"
    )
    assert preset["info"]["base_model_id"] == "gpt-4-turbo" and preset["tags"] == [{"name": "fun"}]

    chat = client.post(
        "/api/chat/completions",
        headers=alice.headers,
        json={
            "model": "pirate",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hello"},
            ],
        },
    )
    assert chat.status_code == 200, chat.text
    sent = fake_upstream.last("/v1/chat/completions").json
    assert sent["model"] == "gpt-4-turbo" and sent["temperature"] == 0.1
    assert sent["messages"][0] == {"role": "system", "content": "Talk like a pirate.\nBe brief."}

    # The request's own value wins over the preset's default.
    client.post(
        "/api/chat/completions",
        headers=alice.headers,
        json={
            "model": "pirate",
            "temperature": 0.9,
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert fake_upstream.last("/v1/chat/completions").json["temperature"] == 0.9

    got = client.get("/api/v1/models/model?id=pirate", headers=alice.headers)
    assert got.status_code == 200 and got.json()["params"]["system"] == "Talk like a pirate."
    assert [
        m["id"] for m in client.get("/api/v1/models/list", headers=alice.headers).json()["items"]
    ] == ["pirate"]

    updated = client.post(
        "/api/v1/models/model/update?id=pirate",
        headers=alice.headers,
        json={**PRESET, "name": "Captain"},
    )
    assert updated.status_code == 200 and updated.json()["name"] == "Captain"

    toggled = client.post("/api/v1/models/model/toggle?id=pirate", headers=alice.headers)
    assert toggled.json()["is_active"] is False
    # Chat sees the change at once (no model-list call in between to refresh anything).
    gone = client.post(
        "/api/chat/completions", headers=alice.headers, json={"model": "pirate", "messages": []}
    )
    assert gone.status_code == 404 and gone.json()["detail"] == "Model 'pirate' was not found"
    assert "pirate" not in ids(client.get("/api/models", headers=alice.headers))

    assert (
        client.post(
            "/api/v1/models/model/delete", headers=alice.headers, json={"id": "pirate"}
        ).json()
        is True
    )
    assert client.get("/api/v1/models/model?id=pirate", headers=alice.headers).status_code == 404


def test_preset_over_ollama_puts_params_into_options(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    form = {
        "id": "llama-cold",
        "base_model_id": "llama3.1:latest",
        "name": "Cold",
        "params": {"temperature": 0, "num_ctx": 8192, "system": "S"},
    }
    assert client.post("/api/v1/models/create", headers=alice.headers, json=form).status_code == 200
    resp = client.post(
        "/api/chat/completions",
        headers=alice.headers,
        json={"model": "llama-cold", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status_code == 200, resp.text
    sent = fake_upstream.last("/api/chat").json
    assert sent["model"] == "llama3.1:latest"
    assert sent["options"] == {"temperature": 0, "num_ctx": 8192}
    assert sent["messages"][0] == {"role": "system", "content": "S"}


def test_a_preset_on_an_ollama_model_named_without_its_tag_is_listed_and_answers(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    """`llama3.1` names Ollama's `llama3.1:latest` (chat accepts either): a preset built on it
    is listed in `/api/models` and calls the tagged model."""
    form = {"id": "llama-short", "base_model_id": "llama3.1", "name": "Short"}
    created = client.post("/api/v1/models/create", headers=alice.headers, json=form)
    assert created.status_code == 200, created.text
    listed = {m["id"]: m for m in client.get("/api/models", headers=alice.headers).json()["data"]}
    assert "llama-short" in listed
    assert listed["llama-short"]["owned_by"] == "ollama"
    resp = client.post(
        "/api/chat/completions",
        headers=alice.headers,
        json={"model": "llama-short", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status_code == 200, resp.text
    assert fake_upstream.last("/api/chat").json["model"] == "llama3.1:latest"


def test_presets_are_private_to_their_owner(
    client: TestClient, alice: Account, bob: Account
) -> None:
    assert (
        client.post("/api/v1/models/create", headers=alice.headers, json=PRESET).status_code == 200
    )
    assert "pirate" not in ids(client.get("/api/models", headers=bob.headers))
    assert client.get("/api/v1/models/list", headers=bob.headers).json() == {
        "items": [],
        "total": 0,
    }
    assert client.get("/api/v1/models/model?id=pirate", headers=bob.headers).status_code == 404
    chat = client.post(
        "/api/chat/completions", headers=bob.headers, json={"model": "pirate", "messages": []}
    )
    assert chat.status_code == 404
    assert (
        client.post("/api/v1/models/model/toggle?id=pirate", headers=bob.headers).status_code == 404
    )
    assert (
        client.post(
            "/api/v1/models/model/delete", headers=bob.headers, json={"id": "pirate"}
        ).status_code
        == 404
    )

    # Shared read with everyone: bob sees it and may use it, but not change it.
    shared = {
        **PRESET,
        "access_grants": [{"principal_type": "user", "principal_id": "*", "permission": "read"}],
    }
    assert (
        client.post(
            "/api/v1/models/model/update?id=pirate", headers=alice.headers, json=shared
        ).status_code
        == 200
    )
    assert "pirate" in ids(client.get("/api/models", headers=bob.headers))
    listed = client.get("/api/v1/models/list", headers=bob.headers).json()["items"]
    assert [(m["id"], m["write_access"]) for m in listed] == [("pirate", False)]
    assert (
        client.post("/api/v1/models/model/toggle?id=pirate", headers=bob.headers).status_code == 401
    )


@pytest.mark.parametrize(
    "form, status, fragment",
    [
        ({"id": "has space", "base_model_id": "gpt-4-turbo", "name": "x"}, 422, "whitespace"),
        ({"id": "x", "base_model_id": "nope", "name": "x"}, 404, "Model 'nope' was not found"),
        ({"id": "gpt-4o-mini", "base_model_id": "gpt-4-turbo", "name": "x"}, 409, "gpt-4o-mini"),
        ({"id": "x", "name": "x"}, 400, "base_model_id"),
        ({"id": "x", "base_model_id": "gpt-4-turbo"}, 422, "name"),
    ],
)
def test_bad_preset_forms(
    client: TestClient, alice: Account, form: dict, status: int, fragment: str
) -> None:
    resp = client.post("/api/v1/models/create", headers=alice.headers, json=form)
    assert resp.status_code == status, resp.text
    assert fragment in str(resp.json()["detail"])
    assert client.get("/api/v1/models/list", headers=alice.headers).json()["total"] == 0


def test_duplicate_preset_id(client: TestClient, alice: Account, bob: Account) -> None:
    assert (
        client.post("/api/v1/models/create", headers=alice.headers, json=PRESET).status_code == 200
    )
    resp = client.post("/api/v1/models/create", headers=bob.headers, json=PRESET)
    assert resp.status_code == 400 and "already registered" in resp.json()["detail"]


def test_admin_override_renames_and_hides_a_base_model(
    client: TestClient, admin: Account, alice: Account
) -> None:
    resp = client.post(
        "/api/v1/models/create",
        headers=admin.headers,
        json={"id": "gpt-4o-mini", "name": "Mini", "meta": {}},
    )
    assert resp.status_code == 200, resp.text
    models = {m["id"]: m for m in client.get("/api/models", headers=alice.headers).json()["data"]}
    assert (
        models["gpt-4o-mini"]["name"] == "Mini"
        and models["gpt-4o-mini"]["info"]["base_model_id"] is None
    )
    client.post("/api/v1/models/model/toggle?id=gpt-4o-mini", headers=admin.headers)
    assert "gpt-4o-mini" not in ids(client.get("/api/models", headers=alice.headers))


def test_access_control_without_bypass(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> None:
    client = make_client(
        make_settings(
            OPENAI_API_BASE_URLS=fake_upstream.openai_url,
            MODELS_CACHE_TTL=0,
            BYPASS_MODEL_ACCESS_CONTROL=False,
        )
    )
    admin = signup(client, "Admin")
    alice = signup(client, "Alice", admin=admin)
    assert ids(client.get("/api/models", headers=admin.headers)) == [
        "gpt-4-turbo",
        "gpt-4o-mini",
        "text-embedding-3-small",
    ]
    assert (
        ids(client.get("/api/models", headers=alice.headers)) == []
    )  # unconfigured models: admins only
    denied = client.post(
        "/api/chat/completions",
        headers=alice.headers,
        json={"model": "gpt-4-turbo", "messages": []},
    )
    assert denied.status_code == 404
    grant = {
        "id": "gpt-4-turbo",
        "name": "GPT-4 Turbo",
        "access_grants": [{"principal_type": "user", "principal_id": alice.id}],
    }
    assert (
        client.post("/api/v1/models/create", headers=admin.headers, json=grant).status_code == 200
    )
    assert ids(client.get("/api/models", headers=alice.headers)) == ["gpt-4-turbo"]
    ok = client.post(
        "/api/chat/completions",
        headers=alice.headers,
        json={"model": "gpt-4-turbo", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert ok.status_code == 200, ok.text


def test_same_ollama_model_on_two_connections_is_one_entry_serving_from_both(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Settings], TestClient],
    fake_upstream: FakeUpstream,
) -> None:
    second = fake_upstream.ollama_url.replace(
        "127.0.0.1", "localhost"
    )  # same fake, told apart by Host
    client = make_client(
        make_settings(OLLAMA_BASE_URLS=f"{fake_upstream.ollama_url};{second}", MODELS_CACHE_TTL=0)
    )
    admin = signup(client, "Admin")
    models = client.get("/api/models", headers=admin.headers).json()["data"]
    assert [m["id"] for m in models] == [
        "llama3.1:latest",
        "qwen2.5:0.5b",
        "nomic-embed-text:latest",
    ]
    assert models[0]["ollama"]["urls"] == [0, 1]
    # Each call goes to one of the two at random (simple-shuffle): 20 miss one with p = 2^-19.
    for _ in range(20):
        resp = client.post(
            "/api/chat/completions",
            headers=admin.headers,
            json={"model": "llama3.1", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert resp.status_code == 200, resp.text
    hosts = {r.headers["Host"].split(":")[0] for r in fake_upstream.requests_to("/api/chat")}
    assert hosts == {"127.0.0.1", "localhost"}


def test_preset_over_a_preset_inherits_params(
    client: TestClient, alice: Account, fake_upstream: FakeUpstream
) -> None:
    assert (
        client.post("/api/v1/models/create", headers=alice.headers, json=PRESET).status_code == 200
    )
    hot = {
        "id": "pirate-hot",
        "base_model_id": "pirate",
        "name": "Hot pirate",
        "params": {"temperature": 0.9},
    }
    assert client.post("/api/v1/models/create", headers=alice.headers, json=hot).status_code == 200
    resp = client.post(
        "/api/chat/completions",
        headers=alice.headers,
        json={"model": "pirate-hot", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status_code == 200, resp.text
    sent = fake_upstream.last("/v1/chat/completions").json
    assert sent["model"] == "gpt-4-turbo" and sent["temperature"] == 0.9
    assert sent["messages"][0] == {"role": "system", "content": "Talk like a pirate."}
