"""`/api/v1/configs`: banners, prompt suggestions, model defaults, connection flags, and the
whole runtime configuration exported and imported (every section, whole or not at all)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.fakes.upstream import FakeUpstream
from wayline.configs.sections import SECTIONS
from wayline.core.settings import Settings

C = "/api/v1/configs"
BANNER = {
    "id": "b1",
    "type": "info",
    "title": "Maintenance",
    "content": "Down at 22:00",
    "dismissible": True,
    "timestamp": 1_700_000_000,
}


@pytest.fixture
def settings(gateway_settings: Settings) -> Settings:
    return gateway_settings


def ok(resp: Any) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_banners_are_set_by_admins_and_read_by_every_user(
    client: TestClient, admin: Account, alice: Account
) -> None:
    assert ok(client.get(f"{C}/banners", headers=alice.headers)) == []
    saved = ok(client.post(f"{C}/banners", json={"banners": [BANNER]}, headers=admin.headers))
    assert saved == [{**BANNER, "i18n": None}]
    assert ok(client.get(f"{C}/banners", headers=alice.headers)) == saved

    refused = client.post(f"{C}/banners", json={"banners": []}, headers=alice.headers)
    assert refused.status_code == 401 and refused.json()["detail"]
    bad = client.post(
        f"{C}/banners", json={"banners": [{**BANNER, "content": None}]}, headers=admin.headers
    )
    assert bad.status_code == 422 and "content" in str(bad.json()["detail"])
    assert ok(client.get(f"{C}/banners", headers=alice.headers)) == saved  # unchanged

    assert ok(client.post(f"{C}/banners", json={"banners": []}, headers=admin.headers)) == []
    assert ok(client.get(f"{C}/banners", headers=alice.headers)) == []


def test_suggestions(client: TestClient, admin: Account, alice: Account) -> None:
    form = {
        "suggestions": [{"title": ["Explain", "a concept"], "content": "Explain {{topic}}"}],
        "i18n": {"de": {"Explain": "Erkläre"}},
    }
    assert ok(client.post(f"{C}/suggestions", json=form, headers=admin.headers)) == form
    assert ok(client.get(f"{C}/suggestions", headers=alice.headers)) == form
    assert client.post(f"{C}/suggestions", json=form, headers=alice.headers).status_code == 401
    bad = client.post(
        f"{C}/suggestions", json={"suggestions": [{"title": "x"}]}, headers=admin.headers
    )
    assert bad.status_code == 422


def test_models_config_and_defaults(client: TestClient, admin: Account, alice: Account) -> None:
    assert ok(client.get(f"{C}/models", headers=admin.headers)) == {
        "DEFAULT_MODELS": None,
        "DEFAULT_PINNED_MODELS": None,
        "MODEL_ORDER_LIST": [],
        "DEFAULT_MODEL_METADATA": {},
        "DEFAULT_MODEL_PARAMS": {},
    }
    form = {
        "DEFAULT_MODELS": "gpt-4o-mini",
        "DEFAULT_PINNED_MODELS": "gpt-4o-mini,llama3.1:latest",
        "MODEL_ORDER_LIST": ["llama3.1:latest", "gpt-4o-mini"],
        "DEFAULT_MODEL_METADATA": {"capabilities": {"vision": False}},
    }
    saved = ok(client.post(f"{C}/models", json=form, headers=admin.headers))
    assert saved == {**form, "DEFAULT_MODEL_PARAMS": None}  # left out: null, as Open WebUI
    assert ok(client.get(f"{C}/models", headers=admin.headers)) == saved
    assert ok(client.get(f"{C}/models/defaults", headers=alice.headers)) == {
        "DEFAULT_MODEL_METADATA": {"capabilities": {"vision": False}}
    }
    assert client.get(f"{C}/models", headers=alice.headers).status_code == 401
    missing = client.post(f"{C}/models", json={"DEFAULT_MODELS": None}, headers=admin.headers)
    assert missing.status_code == 422 and "MODEL_ORDER_LIST" in str(missing.json()["detail"])


def test_connections_flags(client: TestClient, admin: Account, alice: Account) -> None:
    assert ok(client.get(f"{C}/connections", headers=admin.headers)) == {
        "ENABLE_DIRECT_CONNECTIONS": False,
        "ENABLE_DIRECT_INTEGRATIONS": False,
        "ENABLE_BASE_MODELS_CACHE": False,
    }
    every = {
        "ENABLE_DIRECT_CONNECTIONS": True,
        "ENABLE_DIRECT_INTEGRATIONS": True,
        "ENABLE_BASE_MODELS_CACHE": True,
    }
    assert ok(client.post(f"{C}/connections", json=every, headers=admin.headers)) == every
    # A flag left out keeps its value (Open WebUI's `exclude_unset`).
    two = {"ENABLE_DIRECT_CONNECTIONS": False, "ENABLE_BASE_MODELS_CACHE": True}
    assert ok(client.post(f"{C}/connections", json=two, headers=admin.headers)) == {
        **two,
        "ENABLE_DIRECT_INTEGRATIONS": True,
    }
    assert client.post(f"{C}/connections", json=two, headers=alice.headers).status_code == 401
    half = client.post(
        f"{C}/connections", json={"ENABLE_DIRECT_CONNECTIONS": True}, headers=admin.headers
    )
    assert half.status_code == 422


def test_interface_visibility_and_namespace(client: TestClient, admin: Account) -> None:
    form = {"visibility": {"notes": False, "channels": True}}
    assert ok(client.post(f"{C}/interface/visibility", json=form, headers=admin.headers)) == form
    bad = client.post(
        f"{C}/interface/visibility", json={"visibility": {"notes": "no"}}, headers=admin.headers
    )
    assert bad.status_code == 422
    assert ok(client.get(f"{C}/namespace/interface", headers=admin.headers)) == {
        "interface.visibility": {"notes": False, "channels": True}
    }
    openai = ok(client.get(f"{C}/namespace/openai", headers=admin.headers))
    assert openai["openai.ENABLE_OPENAI_API"] is True and "openai.OPENAI_API_KEYS" in openai
    unknown = client.get(f"{C}/namespace/nope", headers=admin.headers)
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]


def test_every_runtime_section_is_exported() -> None:
    """A domain's runtime-config `SECTION` missing from the registry would be left out of the
    export and refused by the import."""
    src = Path(__file__).resolve().parents[2] / "src" / "wayline"
    declared = {
        m.group(1)
        for path in src.rglob("*.py")
        for m in re.finditer(r'^SECTION = "(\w+)"', path.read_text(), re.M)
    }
    assert declared and declared <= {s.name for s in SECTIONS}


def _change_everything(client: TestClient, admin: Account, fake: FakeUpstream) -> None:
    """Move every section away from its defaults through its own endpoint."""
    h = admin.headers
    ok(
        client.post(
            "/openai/config/update",
            json={
                "ENABLE_OPENAI_API": True,
                "OPENAI_API_BASE_URLS": [fake.openai_url, "http://127.0.0.1:9/v1"],
                "OPENAI_API_KEYS": ["sk-fake-upstream", "sk-other"],
                "OPENAI_API_CONFIGS": {"1": {"enable": False}},
            },
            headers=h,
        )
    )
    ok(
        client.post(
            "/ollama/config/update",
            json={"ENABLE_OLLAMA_API": False, "OLLAMA_BASE_URLS": [fake.ollama_url]},
            headers=h,
        )
    )
    ok(client.post("/api/v1/retrieval/config/update", json={"TOP_K": 7}, headers=h))
    ok(client.post("/api/v1/images/config/update", json={"IMAGE_SIZE": "256x256"}, headers=h))
    ok(client.post("/api/v1/audio/config/update", json={"tts": {"VOICE": "nova"}}, headers=h))
    ok(client.post(f"{C}/banners", json={"banners": [BANNER]}, headers=h))
    ok(
        client.post(
            f"{C}/suggestions", json={"suggestions": [{"title": ["a"], "content": "b"}]}, headers=h
        )
    )
    ok(
        client.post(
            f"{C}/models",
            json={
                "DEFAULT_MODELS": "gpt-4o-mini",
                "DEFAULT_PINNED_MODELS": None,
                "MODEL_ORDER_LIST": None,
            },
            headers=h,
        )
    )
    ok(
        client.post(
            f"{C}/connections",
            json={"ENABLE_DIRECT_CONNECTIONS": True, "ENABLE_BASE_MODELS_CACHE": True},
            headers=h,
        )
    )
    ok(client.post(f"{C}/interface/visibility", json={"visibility": {"notes": False}}, headers=h))


def test_export_import_round_trip(
    client: TestClient, admin: Account, alice: Account, fake_upstream: FakeUpstream
) -> None:
    defaults = ok(client.get(f"{C}/export", headers=admin.headers))
    assert set(defaults) == {"version", *(s.name for s in SECTIONS)}
    _change_everything(client, admin, fake_upstream)
    exported = ok(client.get(f"{C}/export", headers=admin.headers))
    changed = {name for name in exported if exported[name] != defaults[name]}
    assert changed == {s.name for s in SECTIONS}, "every section moved away from its default"
    assert exported["openai"]["OPENAI_API_KEYS"] == ["sk-fake-upstream", "sk-other"]
    assert exported["rag"]["TOP_K"] == 7 and exported["audio"]["tts"]["VOICE"] == "nova"

    # Back to the defaults in one import, then the exported state in another.
    assert (
        ok(client.post(f"{C}/import", json={"config": defaults}, headers=admin.headers)) == defaults
    )
    assert ok(client.get(f"{C}/export", headers=admin.headers)) == defaults
    assert ok(client.get(f"{C}/banners", headers=alice.headers)) == []
    assert (
        ok(client.post(f"{C}/import", json={"config": exported}, headers=admin.headers)) == exported
    )
    assert ok(client.get(f"{C}/export", headers=admin.headers)) == exported

    # Imported settings take effect, not just read back: the connections are applied.
    assert ok(client.get("/openai/config", headers=admin.headers))["OPENAI_API_BASE_URLS"] == [
        fake_upstream.openai_url,
        "http://127.0.0.1:9/v1",
    ]
    listed = [m["id"] for m in ok(client.get("/api/models", headers=alice.headers))["data"]]
    assert "gpt-4o-mini" in listed and "llama3.1:latest" not in listed  # Ollama disabled
    assert ok(client.get(f"{C}/banners", headers=alice.headers))[0]["id"] == "b1"

    # A partial import changes only what it names, key by key.
    partial = {"rag": {"TOP_K": 2}, "audio": {"stt": {"MODEL": "whisper-2"}}}
    after = ok(client.post(f"{C}/import", json={"config": partial}, headers=admin.headers))
    assert after["rag"] == {**exported["rag"], "TOP_K": 2}
    assert after["audio"]["tts"] == exported["audio"]["tts"]
    assert after["audio"]["stt"] == {**exported["audio"]["stt"], "MODEL": "whisper-2"}
    assert after["banners"] == exported["banners"]


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"banners": {"banners": []}, "openai": {"OPENAI_API_BASE_URLS": ["ftp://x"]}}, "openai"),
        ({"banners": {"banners": []}, "images": {"IMAGE_SIZE": "huge"}}, "images"),
        ({"banners": {"banners": []}, "audio": {"tts": {"ENGINE": "nope"}}}, "audio"),
        ({"banners": {"banners": []}, "rag": {"TOP_K": "many"}}, "rag.TOP_K"),
        ({"banners": {"banners": []}, "rag": {"TOP_KK": 1}}, "rag.TOP_KK"),
        ({"banners": {"banners": []}, "audio": {"tts": {"VOICES": "x"}}}, "audio.tts.VOICES"),
        ({"banners": {"banners": []}, "nonsense": {}}, "nonsense"),
        ({"banners": {"banners": []}, "openai": []}, "openai"),
        ({"banners": {"banners": [{"id": "x"}]}}, "banners.banners.0"),
        ({"version": 99, "banners": {"banners": []}}, "99"),
    ],
)
def test_a_bad_import_changes_nothing(
    client: TestClient, admin: Account, config: dict[str, Any], named: str
) -> None:
    ok(client.post(f"{C}/banners", json={"banners": [BANNER]}, headers=admin.headers))
    before = ok(client.get(f"{C}/export", headers=admin.headers))
    resp = client.post(f"{C}/import", json={"config": config}, headers=admin.headers)
    assert resp.status_code == 400, resp.text
    assert named in resp.json()["detail"]
    assert ok(client.get(f"{C}/export", headers=admin.headers)) == before


def test_import_export_are_admin_only(client: TestClient, admin: Account, alice: Account) -> None:
    for method, path, body in [
        ("GET", f"{C}/export", None),
        ("POST", f"{C}/import", {"config": {}}),
        ("GET", f"{C}/namespace/openai", None),
        ("GET", f"{C}/connections", None),
        ("POST", f"{C}/interface/visibility", {"visibility": {}}),
    ]:
        resp = client.request(method, path, json=body, headers=alice.headers)
        assert resp.status_code == 401, (path, resp.text)
    assert client.get(f"{C}/export").status_code == 401
    assert client.post(f"{C}/import", json={"config": []}, headers=admin.headers).status_code == 422
