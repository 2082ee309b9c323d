"""Invalid settings are refused when `Settings` is built, and the CLI says so in one line each.

The engine settings are `Literal` types: a value no engine serves fails here, at start,
instead of as a 500 on the first request that needs the engine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from wayline import cli
from wayline.app import create_app
from wayline.core.settings import Settings, VectorDB, choices
from wayline.vectors import create_vector_index


def errors_of(**values: Any) -> list[str]:
    with pytest.raises(ValidationError) as info:
        Settings(**values)
    return cli.describe(info.value)


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("AUDIO_STT_ENGINE", "whisper", "'', 'openai'"),
        ("AUDIO_TTS_ENGINE", "elevenlabs", "'', 'openai'"),
        ("IMAGE_GENERATION_ENGINE", "comfyui", "'openai'"),
        ("RAG_EMBEDDING_ENGINE", "cohere", "'', 'local', 'ollama', 'openai'"),
        ("DEFAULT_USER_ROLE", "root", "'admin', 'user', 'pending'"),
        ("ENV", "staging", "'dev', 'prod', 'test'"),
        ("WEBUI_AUTH_COOKIE_SAME_SITE", "always", "'lax', 'strict', 'none'"),
        ("VECTOR_DB", "chroma", "'', 'sqlite-vec', 'sqlite', 'sqlite_vec', 'pgvector'"),
    ],
)
def test_enumerated_settings_name_the_accepted_values(name, value, accepted):
    assert errors_of(**{name: value}) == [f"{name}={value!r} is not one of: {accepted}"]


def test_one_line_per_bad_variable():
    lines = errors_of(
        AUDIO_STT_ENGINE="whisper", PORT="abc", UVICORN_WORKERS=0, IMAGE_SIZE="big", LOG_LEVEL="x"
    )
    assert len(lines) == 5
    for name in ("AUDIO_STT_ENGINE", "PORT", "UVICORN_WORKERS", "IMAGE_SIZE", "LOG_LEVEL"):
        assert sum(line.startswith(f"{name}=") for line in lines) == 1, lines
    assert all("\n" not in line for line in lines)


def test_values_that_may_hold_credentials_are_not_echoed():
    secret_configs = '{"0": {"key": "sk-secret"'  # truncated JSON
    (line,) = errors_of(OPENAI_API_CONFIGS=secret_configs)
    assert line.startswith("OPENAI_API_CONFIGS is not valid JSON")
    assert "sk-secret" not in line


def test_connection_configs_are_checked_at_start():
    assert errors_of(OLLAMA_API_CONFIGS="[1, 2]") == [
        "OLLAMA_API_CONFIGS must be a JSON object keyed by connection index"
    ]


def test_good_values_and_spellings():
    s = Settings(LOG_LEVEL="warning", VECTOR_DB="SQLite-Vec", IMAGE_SIZE="auto")
    assert (s.LOG_LEVEL, s.VECTOR_DB, s.IMAGE_SIZE) == ("WARNING", "sqlite-vec", "auto")
    assert Settings(IMAGE_SIZE="").IMAGE_SIZE == ""  # '' = the 512x512 default
    assert Settings(AUDIO_STT_ENGINE="openai", AUDIO_TTS_ENGINE="").AUDIO_STT_ENGINE == "openai"


def test_vector_db_must_fit_the_database():
    assert errors_of(VECTOR_DB="pgvector") == [
        "VECTOR_DB='pgvector' needs a PostgreSQL DATABASE_URL"
    ]
    assert errors_of(DATABASE_URL="postgresql://u:p@db/w", VECTOR_DB="sqlite-vec") == [
        "VECTOR_DB='sqlite-vec' needs a SQLite DATABASE_URL"
    ]


@pytest.mark.parametrize("value", choices(VectorDB))
def test_every_accepted_vector_db_has_an_index(value):
    """The Literal may not promise what `create_vector_index` cannot build."""
    dialect = "postgresql" if value == "pgvector" else "sqlite"
    assert create_vector_index(value, dialect) is not None


def test_the_app_factory_refuses_at_construction(tmp_path: Path):
    with pytest.raises(ValidationError, match="AUDIO_STT_ENGINE"):
        create_app(Settings(DATA_DIR=tmp_path, AUDIO_STT_ENGINE="whisper"))


# --- the CLI passes values on instead of writing os.environ ----------------------------------


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    for name in ("UVICORN_WORKERS", "HOST", "PORT", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WEBUI_SECRET_KEY", "k")
    return calls


def test_serve_does_not_write_the_environment(uvicorn_calls, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    before = dict(os.environ)
    cli.main(["serve", "--workers", "3", "--port", "9999"])
    assert dict(os.environ) == before
    (call,) = uvicorn_calls
    assert call["app"] == "wayline.app:create_app" and call["factory"] is True
    assert (call["workers"], call["port"], call["host"]) == (3, 9999, "0.0.0.0")


def test_serve_defaults_come_from_settings(uvicorn_calls, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("UVICORN_WORKERS", "2")
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    cli.main(["serve"])
    (call,) = uvicorn_calls
    assert (call["workers"], call["port"], call["host"]) == (2, 8123, "127.0.0.1")
    assert call["log_level"] == "debug"


def test_serve_with_a_bad_setting_exits_without_starting(uvicorn_calls, monkeypatch, capsys):
    monkeypatch.setenv("AUDIO_TTS_ENGINE", "azure")
    with pytest.raises(SystemExit) as info:
        cli.main(["serve"])
    assert info.value.code == 2
    assert (
        capsys.readouterr().err == "wayline: AUDIO_TTS_ENGINE='azure' is not one of: '', 'openai'\n"
    )
    assert uvicorn_calls == []


def test_workers_flag_must_be_positive(uvicorn_calls, capsys):
    with pytest.raises(SystemExit):
        cli.main(["serve", "--workers", "0"])
    assert "--workers" in capsys.readouterr().err and uvicorn_calls == []
