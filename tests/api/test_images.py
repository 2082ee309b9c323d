"""Image generation: PNGs from an OpenAI-compatible engine stored as the caller's files."""

from __future__ import annotations

import pytest

from tests.fakes.media import png_for


@pytest.fixture
def settings(make_settings, fake_upstream):
    return make_settings(
        ENABLE_IMAGE_GENERATION=True,
        IMAGES_OPENAI_API_BASE_URL=fake_upstream.openai_url,
        IMAGES_OPENAI_API_KEY="sk-images",
        IMAGE_GENERATION_MODEL="dall-e-3",
        IMAGE_SIZE="256x256",
    )


def test_generation_stores_the_png_as_the_callers_file(client, alice, bob, fake_upstream):
    resp = client.post(
        "/api/v1/images/generations", json={"prompt": "a lighthouse", "n": 2}, headers=alice.headers
    )
    assert resp.status_code == 200, resp.text
    images = resp.json()
    assert len(images) == 2
    sent = fake_upstream.last("/v1/images/generations")
    assert sent.json == {
        "model": "dall-e-3",
        "prompt": "a lighthouse",
        "n": 2,
        "size": "256x256",
        "response_format": "b64_json",
    }
    assert sent.headers["Authorization"] == "Bearer sk-images"

    for i, image in enumerate(images):
        assert image["url"] == f"/api/v1/files/{image['id']}/content"
        meta = client.get(f"/api/v1/files/{image['id']}", headers=alice.headers)
        assert meta.status_code == 200, meta.text
        assert meta.json()["user_id"] == alice.id
        content = client.get(image["url"], headers=alice.headers)
        assert content.status_code == 200
        assert content.content == png_for("a lighthouse", i)
        assert content.headers["content-type"].startswith("image/png")
        # Another user cannot read it, nor learn it exists.
        assert client.get(image["url"], headers=bob.headers).status_code == 404
        assert client.get(f"/api/v1/files/{image['id']}", headers=bob.headers).status_code == 404


def test_url_answers_are_fetched_and_stored(client, admin, alice, fake_upstream):
    ok = client.post(
        "/api/v1/images/config/update",
        json={"IMAGES_OPENAI_API_PARAMS": {"response_format": "url"}},
        headers=admin.headers,
    )
    assert ok.status_code == 200, ok.text
    resp = client.post(
        "/api/v1/images/generations",
        json={"prompt": "a fox", "size": "64x64", "model": "dall-e-2"},
        headers=alice.headers,
    )
    assert resp.status_code == 200, resp.text
    assert fake_upstream.last("/v1/images/generations").json["size"] == "64x64"
    [image] = resp.json()
    assert client.get(image["url"], headers=alice.headers).content == png_for("a fox", 0)


def test_alias_prefix(client, alice):
    resp = client.post(
        "/images/api/v1/generations", json={"prompt": "alias"}, headers=alice.headers
    )
    assert resp.status_code == 200, resp.text


def test_disabled_is_403_naming_the_setting(make_settings, make_client, fake_upstream):
    from tests.conftest import signup

    client = make_client(make_settings(IMAGES_OPENAI_API_BASE_URL=fake_upstream.openai_url))
    user = signup(client, "Admin")
    resp = client.post("/api/v1/images/generations", json={"prompt": "x"}, headers=user.headers)
    assert resp.status_code == 403
    assert "ENABLE_IMAGE_GENERATION" in resp.json()["detail"]
    assert not fake_upstream.requests_to("/v1/images/generations")
    # An admin can switch it on at run time.
    on = client.post(
        "/api/v1/images/config/update", json={"ENABLE_IMAGE_GENERATION": True}, headers=user.headers
    )
    assert on.status_code == 200 and on.json()["ENABLE_IMAGE_GENERATION"] is True
    assert (
        client.post(
            "/api/v1/images/generations", json={"prompt": "x"}, headers=user.headers
        ).status_code
        == 200
    )


def test_bad_inputs_are_4xx_and_store_nothing(client, alice, fake_upstream):
    h = alice.headers
    assert client.post("/api/v1/images/generations", json={}, headers=h).status_code == 422
    assert (
        client.post("/api/v1/images/generations", json={"prompt": ""}, headers=h).status_code == 422
    )
    assert (
        client.post(
            "/api/v1/images/generations", json={"prompt": "x", "n": 0}, headers=h
        ).status_code
        == 422
    )
    bad_size = client.post(
        "/api/v1/images/generations", json={"prompt": "x", "size": "huge"}, headers=h
    )
    assert bad_size.status_code == 400 and "size" in bad_size.json()["detail"]
    fake_upstream.fail(path="/v1/images/generations", status=400, message="content policy")
    refused = client.post("/api/v1/images/generations", json={"prompt": "x"}, headers=h)
    assert refused.status_code == 400 and refused.json()["detail"] == "content policy"
    assert client.get("/api/v1/files/", headers=h).json()["total"] == 0


def test_engine_returning_garbage_is_502(client, alice, fake_upstream):
    fake_upstream.fail(path="/v1/images/generations", status=200, message="not an image")
    resp = client.post("/api/v1/images/generations", json={"prompt": "x"}, headers=alice.headers)
    assert resp.status_code == 502
    assert client.get("/api/v1/files/", headers=alice.headers).json()["total"] == 0


def test_config_and_models(client, admin, alice):
    assert client.get("/api/v1/images/config", headers=alice.headers).status_code == 401
    cfg = client.get("/api/v1/images/config", headers=admin.headers).json()
    assert cfg["IMAGE_GENERATION_MODEL"] == "dall-e-3" and cfg["IMAGE_SIZE"] == "256x256"
    bad = client.post(
        "/api/v1/images/config/update", json={"IMAGE_SIZE": "big"}, headers=admin.headers
    )
    assert bad.status_code == 400
    bad = client.post(
        "/api/v1/images/config/update",
        json={"IMAGE_GENERATION_ENGINE": "comfyui"},
        headers=admin.headers,
    )
    assert bad.status_code == 400 and "comfyui" in bad.json()["detail"]
    models = client.get("/api/v1/images/models", headers=alice.headers).json()
    assert {"id": "dall-e-3", "name": "DALL·E 3"} in models
