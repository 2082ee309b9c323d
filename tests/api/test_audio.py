"""Audio: transcription and speech round trips through an OpenAI-compatible engine, types,
config."""

from __future__ import annotations

import base64

import pytest

from tests.fakes.media import wav_for


@pytest.fixture
def settings(make_settings, fake_upstream):
    return make_settings(
        AUDIO_STT_ENGINE="openai",
        AUDIO_STT_OPENAI_API_BASE_URL=fake_upstream.openai_url,
        AUDIO_STT_OPENAI_API_KEY="sk-stt",
        AUDIO_TTS_ENGINE="openai",
        AUDIO_TTS_OPENAI_API_BASE_URL=fake_upstream.openai_url,
        AUDIO_TTS_OPENAI_API_KEY="sk-tts",
    )


def test_speech_then_transcription_round_trip(client, alice, fake_upstream):
    spoken = client.post(
        "/api/v1/audio/speech", json={"input": "Hello from Wayline"}, headers=alice.headers
    )
    assert spoken.status_code == 200, spoken.text
    assert spoken.headers["content-type"] == "audio/wav"
    assert spoken.content[:4] == b"RIFF" and spoken.content[8:12] == b"WAVE"
    sent = fake_upstream.last("/v1/audio/speech")
    assert sent.json == {"input": "Hello from Wayline", "model": "tts-1", "voice": "alloy"}
    assert sent.headers["Authorization"] == "Bearer sk-tts"

    heard = client.post(
        "/api/v1/audio/transcriptions",
        files={"file": ("hello.wav", spoken.content, "audio/wav")},
        data={"language": "en"},
        headers=alice.headers,
    )
    assert heard.status_code == 200, heard.text
    assert heard.json()["text"] == "Hello from Wayline"
    assert heard.json()["filename"] == "hello.wav"
    forwarded = fake_upstream.last("/v1/audio/transcriptions")
    assert forwarded.json["model"] == "whisper-1" and forwarded.json["language"] == "en"
    assert forwarded.json["file"]["filename"] == "hello.wav"
    assert forwarded.body == spoken.content  # the bytes arrive intact
    assert forwarded.headers["Authorization"] == "Bearer sk-stt"


def test_speech_is_cached_by_body(client, alice, fake_upstream):
    body = {"input": "cache me", "voice": "nova", "model": "tts-1-hd"}
    first = client.post("/api/v1/audio/speech", json=body, headers=alice.headers)
    second = client.post("/api/v1/audio/speech", json=body, headers=alice.headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content == wav_for("cache me")
    assert second.headers["content-type"] == "audio/wav"
    assert len(fake_upstream.requests_to("/v1/audio/speech")) == 1
    other = client.post(
        "/api/v1/audio/speech", json={**body, "voice": "echo"}, headers=alice.headers
    )
    assert other.status_code == 200
    assert len(fake_upstream.requests_to("/v1/audio/speech")) == 2


def test_alias_prefix_reaches_transcriptions(client, alice):
    resp = client.post(
        "/audio/api/v1/transcriptions",
        files={"file": ("a.wav", wav_for("alias"), "audio/wav")},
        headers=alice.headers,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["text"] == "alias"


@pytest.mark.parametrize(
    ("filename", "content_type", "names"),
    [
        ("notes.txt", "text/plain", "AUDIO_STT_SUPPORTED_CONTENT_TYPES"),
        ("image.png", "image/png", "AUDIO_STT_SUPPORTED_CONTENT_TYPES"),
        ("voice.exe", "audio/wav", "AUDIO_STT_ALLOWED_EXTENSIONS"),
    ],
)
def test_disallowed_audio_type_is_refused(
    client, alice, fake_upstream, filename, content_type, names
):
    resp = client.post(
        "/api/v1/audio/transcriptions",
        files={"file": (filename, b"data", content_type)},
        headers=alice.headers,
    )
    assert resp.status_code == 415
    assert names in resp.json()["detail"]
    assert not fake_upstream.requests_to("/v1/audio/transcriptions")


def test_bad_inputs_are_4xx(client, alice):
    h = alice.headers
    assert client.post("/api/v1/audio/transcriptions", headers=h).status_code == 422  # no file
    empty = client.post(
        "/api/v1/audio/transcriptions", files={"file": ("a.wav", b"", "audio/wav")}, headers=h
    )
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]
    assert client.post("/api/v1/audio/speech", json={"input": ""}, headers=h).status_code == 422
    assert client.post("/api/v1/audio/speech", json={"voice": "x"}, headers=h).status_code == 422
    assert (
        client.post(
            "/api/v1/audio/speech",
            content=b"not json",
            headers={**h, "Content-Type": "application/json"},
        ).status_code
        == 422
    )


def test_upstream_error_is_relayed(client, alice, fake_upstream):
    fake_upstream.fail(path="/v1/audio/speech", status=429, message="slow down", retry_after=3)
    resp = client.post("/api/v1/audio/speech", json={"input": "x"}, headers=alice.headers)
    assert resp.status_code == 429
    assert resp.json()["detail"] == "slow down"


def test_needs_a_verified_user(client, admin):
    assert client.post("/api/v1/audio/speech", json={"input": "x"}).status_code == 401
    assert client.get("/api/v1/audio/voices").status_code == 401


def test_models_and_voices(client, alice):
    models = client.get("/api/v1/audio/models", headers=alice.headers).json()["models"]
    assert {"id": "tts-1"} in models
    voices = client.get("/api/v1/audio/voices", headers=alice.headers).json()["voices"]
    assert {"id": "alloy", "name": "alloy"} in voices


def test_config_is_admin_only_and_updates(client, admin, alice, fake_upstream):
    assert client.get("/api/v1/audio/config", headers=alice.headers).status_code == 401
    cfg = client.get("/api/v1/audio/config", headers=admin.headers).json()
    assert cfg["stt"]["ENGINE"] == "openai" and cfg["tts"]["VOICE"] == "alloy"

    bad = client.post(
        "/api/v1/audio/config/update", json={"tts": {"ENGINE": "elevenlabs"}}, headers=admin.headers
    )
    assert bad.status_code == 400 and "elevenlabs" in bad.json()["detail"]

    ok = client.post(
        "/api/v1/audio/config/update", json={"tts": {"VOICE": "nova"}}, headers=admin.headers
    )
    assert ok.status_code == 200
    assert (
        ok.json()["tts"]["VOICE"] == "nova" and ok.json()["tts"]["ENGINE"] == "openai"
    )  # partial update keeps the rest
    client.post("/api/v1/audio/speech", json={"input": "hi"}, headers=alice.headers)
    assert fake_upstream.last("/v1/audio/speech").json["voice"] == "nova"

    off = client.post(
        "/api/v1/audio/config/update",
        json={"tts": {"ENGINE": ""}, "stt": {"ENGINE": ""}},
        headers=admin.headers,
    )
    assert off.status_code == 200
    speech = client.post("/api/v1/audio/speech", json={"input": "hi"}, headers=alice.headers)
    assert speech.status_code == 404 and "AUDIO_TTS_ENGINE" in speech.json()["detail"]
    stt = client.post(
        "/api/v1/audio/transcriptions",
        files={"file": ("a.wav", wav_for("x"), "audio/wav")},
        headers=alice.headers,
    )
    assert stt.status_code == 400 and "AUDIO_STT_ENGINE" in stt.json()["detail"]


def test_no_engine_configured_names_the_setting(make_settings, make_client):
    from tests.conftest import signup

    client = make_client(make_settings())
    user = signup(client, "Admin")
    stt = client.post(
        "/api/v1/audio/transcriptions",
        files={"file": ("a.wav", wav_for("x"), "audio/wav")},
        headers=user.headers,
    )
    assert stt.status_code == 400 and "AUDIO_STT_ENGINE" in stt.json()["detail"]
    tts = client.post("/api/v1/audio/speech", json={"input": "hi"}, headers=user.headers)
    assert tts.status_code == 404 and "AUDIO_TTS_ENGINE" in tts.json()["detail"]


def test_unforwardable_json_is_400(client, alice, fake_upstream):
    # Values JSON allows but an upstream body cannot carry (found by the fuzz test).
    for extra in ('{"big": 1278267783256052319434389323776}', '{"text": "\\ud802"}'):
        resp = client.post(
            "/api/v1/audio/speech",
            content=f'{{"input": "x", "extra": {extra}}}',
            headers={**alice.headers, "Content-Type": "application/json"},
        )
        assert resp.status_code == 400, resp.text
    assert not fake_upstream.requests_to("/v1/audio/speech")


# --- Open WebUI's whole configuration -------------------------------------------------------
def test_whole_config_shape_and_round_trip(client, admin):
    cfg = client.get("/api/v1/audio/config", headers=admin.headers).json()
    assert set(cfg) == {"realtime", "tts", "stt"}
    assert cfg["realtime"]["ENABLED"] is False and cfg["realtime"]["VOICE"] == "marin"
    for key in ("OPENAI_PARAMS", "AZURE_SPEECH_OUTPUT_FORMAT", "MISTRAL_API_BASE_URL"):
        assert key in cfg["tts"]
    assert cfg["stt"]["OPENAI_API_REQUEST_FORMAT"] == "multipart"
    assert cfg["stt"]["ALLOWED_EXTENSIONS"] == [
        "mp3",
        "wav",
        "m4a",
        "webm",
        "ogg",
        "flac",
        "mp4",
        "mpga",
        "mpeg",
    ]
    assert cfg["stt"]["WHISPER_MODEL"] == "base" and cfg["stt"]["DEEPGRAM_API_KEY"] == ""

    sent = {
        "realtime": {**cfg["realtime"], "MODEL": "gpt-realtime"},
        "tts": {**cfg["tts"], "AZURE_SPEECH_REGION": "westeurope"},
        "stt": {**cfg["stt"], "AZURE_LOCALES": "en-US,de-DE"},
    }
    back = client.post("/api/v1/audio/config/update", json=sent, headers=admin.headers)
    assert back.status_code == 200 and back.json() == sent
    assert client.get("/api/v1/audio/config", headers=admin.headers).json() == sent


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"realtime": {"ENABLED": True}}, 400, "realtime"),
        ({"realtime": {"PROVIDER": "gemini"}}, 422, "PROVIDER"),
        ({"stt": {"OPENAI_API_REQUEST_FORMAT": "xml"}}, 422, "OPENAI_API_REQUEST_FORMAT"),
        ({"stt": {"ALLOWED_EXTENSIONS": "wav"}}, 422, "ALLOWED_EXTENSIONS"),
        ({"tts": {"OPENAI_PARAMS": [1]}}, 422, "OPENAI_PARAMS"),
    ],
)
def test_bad_config_changes_nothing(client, admin, body, status, says):
    before = client.get("/api/v1/audio/config", headers=admin.headers).json()
    resp = client.post("/api/v1/audio/config/update", json=body, headers=admin.headers)
    assert resp.status_code == status, resp.text
    assert says in str(resp.json()["detail"])
    assert client.get("/api/v1/audio/config", headers=admin.headers).json() == before


def test_allowed_extensions_come_from_the_config(client, admin, alice, fake_upstream):
    def transcribe(name: str):
        return client.post(
            "/api/v1/audio/transcriptions",
            files={"file": (name, wav_for("ext"), "audio/wav")},
            headers=alice.headers,
        )

    assert transcribe("a.mp3").status_code == 200
    only_wav = {"stt": {"ALLOWED_EXTENSIONS": ["wav"]}}
    assert client.post(
        "/api/v1/audio/config/update", json=only_wav, headers=admin.headers
    ).is_success
    refused = transcribe("a.mp3")
    assert refused.status_code == 415 and "allowed are wav" in refused.json()["detail"]
    assert transcribe("a.wav").json()["text"] == "ext"
    anything = {"stt": {"ALLOWED_EXTENSIONS": []}}
    assert client.post(
        "/api/v1/audio/config/update", json=anything, headers=admin.headers
    ).is_success
    assert transcribe("a.oddity").json()["text"] == "ext"


def test_tts_params_are_merged_into_every_speech_request(client, admin, alice, fake_upstream):
    params = {"tts": {"OPENAI_PARAMS": {"speed": 1.5, "instructions": "calmly"}}}
    assert client.post("/api/v1/audio/config/update", json=params, headers=admin.headers).is_success
    resp = client.post(
        "/api/v1/audio/speech", json={"input": "hi", "speed": 1.0}, headers=alice.headers
    )
    assert resp.status_code == 200, resp.text
    assert fake_upstream.last("/v1/audio/speech").json == {
        "input": "hi",
        "model": "tts-1",
        "voice": "alloy",
        "speed": 1.5,
        "instructions": "calmly",
    }


def test_json_request_format_sends_base64_audio(client, admin, alice, fake_upstream):
    as_json = {"stt": {"OPENAI_API_REQUEST_FORMAT": "json"}}
    assert client.post(
        "/api/v1/audio/config/update", json=as_json, headers=admin.headers
    ).is_success
    audio = wav_for("sent as json")
    resp = client.post(
        "/api/v1/audio/transcriptions",
        files={"file": ("clip.wav", audio, "audio/wav")},
        data={"language": "en"},
        headers=alice.headers,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"text": "sent as json", "filename": "clip.wav"}
    sent = fake_upstream.last("/v1/audio/transcriptions")
    assert sent.headers["Content-Type"].startswith("application/json")
    assert sent.json["model"] == "whisper-1" and sent.json["language"] == "en"
    assert sent.json["input_audio"]["format"] == "wav"
    assert base64.b64decode(sent.json["input_audio"]["data"]) == audio
    assert sent.headers["Authorization"] == "Bearer sk-stt"
