"""Image generation: PNGs from an OpenAI-compatible engine stored as the caller's files."""

from __future__ import annotations

import base64
import hashlib

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


# --- engine check, edits, the whole configuration ---------------------------------------------
def test_verify_probes_the_engines_api(client, admin, alice, fake_upstream):
    url = fake_upstream.url
    ok = client.post(
        "/api/v1/images/verify",
        json={"engine": "automatic1111", "url": url + "/", "key": "user:secret"},
        headers=admin.headers,
    )
    assert ok.status_code == 200 and ok.json() is True
    sent = fake_upstream.last("/sdapi/v1/options")
    assert sent.headers["Authorization"] == "Basic dXNlcjpzZWNyZXQ="  # base64 of user:secret
    ok = client.post(
        "/api/v1/images/verify",
        json={"engine": "comfyui", "url": url, "key": "ck"},
        headers=admin.headers,
    )
    assert ok.status_code == 200 and ok.json() is True
    assert fake_upstream.last("/object_info").headers["Authorization"] == "Bearer ck"

    dead = client.post(
        "/api/v1/images/verify",
        json={"engine": "comfyui", "url": url + "/nothing-here"},
        headers=admin.headers,
    )
    assert dead.status_code == 400 and "URL you provided is invalid" in dead.json()["detail"]
    other = client.post(
        "/api/v1/images/verify", json={"engine": "openai", "url": url}, headers=admin.headers
    )
    assert other.status_code == 400 and other.json()["detail"] == "Unsupported image engine"
    not_http = client.post(
        "/api/v1/images/verify",
        json={"engine": "comfyui", "url": "file:///etc"},
        headers=admin.headers,
    )
    assert not_http.status_code == 400
    assert (
        client.post(
            "/api/v1/images/verify", json={"engine": "comfyui"}, headers=admin.headers
        ).status_code
        == 422
    )
    user = client.post(
        "/api/v1/images/verify", json={"engine": "comfyui", "url": url}, headers=alice.headers
    )
    assert user.status_code == 401


@pytest.fixture
def editing(client, admin):
    resp = client.post(
        "/api/v1/images/config/update",
        json={"ENABLE_IMAGE_EDIT": True, "IMAGE_EDIT_MODEL": "dall-e-2"},
        headers=admin.headers,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def test_edit_sends_the_images_and_stores_the_results(client, alice, editing, fake_upstream):
    [made] = client.post(
        "/api/v1/images/generations", json={"prompt": "a lighthouse"}, headers=alice.headers
    ).json()
    second = png_for("a boat")
    resp = client.post(
        "/api/v1/images/edit",
        json={
            "image": [made["url"], data_url(second)],
            "prompt": "add a storm",
            "n": 2,
            "size": "128x128",
            "background": "opaque",
        },
        headers=alice.headers,
    )
    assert resp.status_code == 200, resp.text
    edited = resp.json()
    assert len(edited) == 2

    sent = fake_upstream.last("/v1/images/edits")
    hashes = [
        hashlib.sha256(png_for("a lighthouse", 0)).hexdigest(),
        hashlib.sha256(second).hexdigest(),
    ]
    assert [i["sha256"] for i in sent.json["images"]] == hashes
    assert {i["field"] for i in sent.json["images"]} == {"image[]"}
    assert {k: sent.json[k] for k in ("prompt", "model", "n", "size", "background")} == {
        "prompt": "add a storm",
        "model": "dall-e-2",
        "n": "2",
        "size": "128x128",
        "background": "opaque",
    }
    assert sent.json["response_format"] == "b64_json"
    assert sent.headers["Authorization"] == "Bearer sk-images"  # the generation engine's key

    seed = "add a storm|" + "|".join(hashes)
    for i, image in enumerate(edited):
        assert image["url"] == f"/api/v1/files/{image['id']}/content"
        content = client.get(image["url"], headers=alice.headers)
        assert content.status_code == 200 and content.content == png_for(seed, i)

    # One image, by file id or absolute URL: the field is `image`.
    one = client.post(
        "/api/v1/images/edit",
        json={"image": f"http://testserver/api/v1/files/{made['id']}/content", "prompt": "p"},
        headers=alice.headers,
    )
    assert one.status_code == 200, one.text
    assert [i["field"] for i in fake_upstream.last("/v1/images/edits").json["images"]] == ["image"]


def test_edit_reads_only_the_callers_files(client, alice, bob, editing, fake_upstream):
    [made] = client.post(
        "/api/v1/images/generations", json={"prompt": "private"}, headers=alice.headers
    ).json()
    for ref in (made["id"], made["url"]):
        resp = client.post(
            "/api/v1/images/edit", json={"image": ref, "prompt": "steal"}, headers=bob.headers
        )
        assert resp.status_code == 404
    assert not fake_upstream.requests_to("/v1/images/edits")
    assert client.get("/api/v1/files/", headers=bob.headers).json()["total"] == 0


def test_edit_disabled_is_403_naming_the_setting(client, alice, fake_upstream):
    resp = client.post(
        "/api/v1/images/edit",
        json={"image": data_url(png_for("x")), "prompt": "p"},
        headers=alice.headers,
    )
    assert resp.status_code == 403 and "ENABLE_IMAGE_EDIT" in resp.json()["detail"]
    assert not fake_upstream.requests_to("/v1/images/edits")


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"prompt": "p"}, 422, "image"),
        ({"image": [], "prompt": "p"}, 422, "image"),
        ({"image": "x"}, 422, "prompt"),
        ({"image": "data:image/png;base64,###", "prompt": "p"}, 400, "base64"),
        ({"image": "data:text/plain,hello", "prompt": "p"}, 400, "base64"),
        (
            {"image": "data:image/png;base64," + base64.b64encode(b"text").decode(), "prompt": "p"},
            415,
            "not a PNG",
        ),
        ({"image": "https://example.com/cat.png", "prompt": "p"}, 400, "URL"),
        ({"image": "../../etc/passwd", "prompt": "p"}, 400, "file id"),
        ({"image": "no-such-file", "prompt": "p"}, 404, ""),
        ({"image": "PNG", "prompt": "p", "size": "big"}, 400, "size"),
    ],
)
def test_edit_bad_input_is_4xx_and_stores_nothing(
    client, alice, editing, fake_upstream, body, status, says
):
    resp = client.post("/api/v1/images/edit", json=body, headers=alice.headers)
    assert resp.status_code == status, resp.text
    assert says in str(resp.json()["detail"])
    assert not fake_upstream.requests_to("/v1/images/edits")
    assert client.get("/api/v1/files/", headers=alice.headers).json()["total"] == 0


def test_edit_engine_refusal_is_passed_on(client, alice, editing, fake_upstream):
    fake_upstream.fail(path="/v1/images/edits", status=400, message="content policy")
    resp = client.post(
        "/api/v1/images/edit",
        json={"image": data_url(png_for("x")), "prompt": "p"},
        headers=alice.headers,
    )
    assert resp.status_code == 400 and resp.json()["detail"] == "content policy"
    assert client.get("/api/v1/files/", headers=alice.headers).json()["total"] == 0


def test_whole_config_round_trips(client, admin):
    cfg = client.get("/api/v1/images/config", headers=admin.headers).json()
    for key in (
        "ENABLE_IMAGE_EDIT",
        "IMAGE_EDIT_ENGINE",
        "COMFYUI_WORKFLOW_NODES",
        "AUTOMATIC1111_BASE_URL",
        "IMAGES_GEMINI_ENDPOINT_METHOD",
    ):
        assert key in cfg
    assert cfg["ENABLE_IMAGE_EDIT"] is False and cfg["IMAGE_EDIT_ENGINE"] == "openai"
    sent = {**cfg, "COMFYUI_BASE_URL": "http://comfy:8188", "IMAGE_EDIT_SIZE": "1024x1024"}
    back = client.post("/api/v1/images/config/update", json=sent, headers=admin.headers)
    assert back.status_code == 200 and back.json() == sent
    assert client.get("/api/v1/images/config", headers=admin.headers).json() == sent
    for bad, field in (
        ({"IMAGE_EDIT_ENGINE": "gemini"}, "IMAGE_EDIT_ENGINE"),
        ({"IMAGE_EDIT_SIZE": "big"}, "IMAGE_EDIT_SIZE"),
    ):
        resp = client.post("/api/v1/images/config/update", json=bad, headers=admin.headers)
        assert resp.status_code == 400 and field in resp.json()["detail"]
    assert client.get("/api/v1/images/config", headers=admin.headers).json() == sent
