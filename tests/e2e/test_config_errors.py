"""Configuration errors surface at start (`wayline serve` exits with one line) or as a 4xx
from the config endpoints, never as a 500 at request time; `--workers` reaches uvicorn
without the CLI writing the environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import SECRET, free_port

pytestmark = pytest.mark.e2e

REDIS_URL = "redis://127.0.0.1:6379/0"


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wayline", "serve", "--port", str(free_port()), *args],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            "DATA_DIR": str(tmp_path / "data"),
            "WEBUI_SECRET_KEY": SECRET,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_refuses_an_unsupported_engine_in_one_line(tmp_path: Path):
    proc = serve(tmp_path, AUDIO_STT_ENGINE="whisper")
    assert proc.returncode != 0
    assert proc.stderr == "wayline: AUDIO_STT_ENGINE='whisper' is not one of: '', 'openai'\n"
    assert proc.stdout == ""


def test_serve_names_every_bad_variable_and_no_traceback(tmp_path: Path):
    proc = serve(
        tmp_path, IMAGE_GENERATION_ENGINE="comfyui", AUDIO_TTS_ENGINE="elevenlabs", PORT="http"
    )
    assert proc.returncode != 0
    lines = proc.stderr.splitlines()
    assert len(lines) == 3, proc.stderr
    assert "wayline: IMAGE_GENERATION_ENGINE='comfyui' is not one of: 'openai'" in lines
    assert "wayline: AUDIO_TTS_ENGINE='elevenlabs' is not one of: '', 'openai'" in lines
    assert any(line.startswith("wayline: PORT='http' is invalid") for line in lines)
    assert "Traceback" not in proc.stderr


# --- runtime changes through the config endpoints --------------------------------------------


def test_audio_config_update_rejects_unknown_engines(client, admin):
    before = client.get("/api/v1/audio/config", headers=admin.headers).json()
    for body, field in (
        ({"stt": {"ENGINE": "whisper"}}, "stt.ENGINE='whisper'"),
        ({"tts": {"ENGINE": "elevenlabs"}}, "tts.ENGINE='elevenlabs'"),
    ):
        resp = client.post("/api/v1/audio/config/update", json=body, headers=admin.headers)
        assert resp.status_code == 400, resp.text
        detail = resp.json()["detail"]
        assert detail.startswith(field) and "is not one of: '', 'openai'" in detail
    for body in ({"stt": {"ENGINE": 7}}, {"tts": {"ENGINE": None}}, {"tts": "openai"}):
        resp = client.post("/api/v1/audio/config/update", json=body, headers=admin.headers)
        assert resp.status_code == 422, resp.text
        assert resp.json()["detail"]
    # Nothing was stored: the engines still work as configured.
    assert client.get("/api/v1/audio/config", headers=admin.headers).json() == before
    ok = client.post(
        "/api/v1/audio/config/update", json={"stt": {"ENGINE": "openai"}}, headers=admin.headers
    )
    assert ok.status_code == 200 and ok.json()["stt"]["ENGINE"] == "openai"


def test_images_config_update_rejects_unknown_engines(client, admin):
    before = client.get("/api/v1/images/config", headers=admin.headers).json()
    for engine in ("comfyui", "automatic1111", ""):
        resp = client.post(
            "/api/v1/images/config/update",
            json={"IMAGE_GENERATION_ENGINE": engine},
            headers=admin.headers,
        )
        assert resp.status_code == 400, resp.text
        assert resp.json()["detail"] == (
            f"IMAGE_GENERATION_ENGINE={engine!r} is not one of: 'openai'"
        )
    resp = client.post(
        "/api/v1/images/config/update",
        json={"IMAGE_GENERATION_ENGINE": ["openai"]},
        headers=admin.headers,
    )
    assert resp.status_code == 422 and resp.json()["detail"]
    assert client.get("/api/v1/images/config", headers=admin.headers).json() == before


def test_catalogues_follow_the_configured_engine(client, admin):
    voices = client.get("/api/v1/audio/voices", headers=admin.headers).json()
    assert voices == {"voices": []}  # no TTS engine in the default settings
    client.post(
        "/api/v1/audio/config/update", json={"tts": {"ENGINE": "openai"}}, headers=admin.headers
    )
    voices = client.get("/api/v1/audio/voices", headers=admin.headers).json()["voices"]
    models = client.get("/api/v1/audio/models", headers=admin.headers).json()["models"]
    assert {"id": "alloy", "name": "alloy"} in voices and {"id": "tts-1"} in models


# --- several workers ---------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _redis_up() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")
@pytest.mark.parametrize("how", ["flag", "env"])
def test_serve_with_two_workers(tmp_path: Path, database_url: str, how: str):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OLLAMA_"))},
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "WEBUI_SECRET_KEY": SECRET,
        "ENV": "test",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": f"wl-workers-{port}",
    }
    env.pop("UVICORN_WORKERS", None)
    args = ["--workers", "2"] if how == "flag" else []
    if how == "env":
        env["UVICORN_WORKERS"] = "2"
    with open(tmp_path / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wayline",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *args,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("wayline serve --workers 2 did not become ready")
        # uvicorn's supervisor spawns the workers (plus multiprocessing's resource tracker).
        deadline = time.monotonic() + 30
        while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_children(proc.pid)) >= 2
        for _ in range(4):
            assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
