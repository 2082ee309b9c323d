from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from wayline.core.settings import Settings, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("4w", 4 * 604800), ("30m", 1800), ("1.5h", 5400), ("250ms", 0.25), ("-1", None)],
)
def test_jwt_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_duration_is_a_clear_error():
    with pytest.raises(ValidationError, match="invalid duration"):
        Settings(JWT_EXPIRES_IN="soon")


def test_open_webui_style_urls_and_lists(tmp_path: Path):
    s = Settings(
        DATA_DIR=tmp_path,
        DATABASE_URL="postgresql://u:p@db:5432/wayline",
        OPENAI_API_BASE_URLS="http://a/v1/; http://b/v1",
        OPENAI_API_KEYS="ka",
        OLLAMA_BASE_URL="http://ollama:11434/",
        OPENAI_API_CONFIGS='{"0": {"prefix_id": "a"}}',
    )
    assert s.database_url == "postgresql+asyncpg://u:p@db:5432/wayline"
    assert s.openai_base_urls == ["http://a/v1", "http://b/v1"]
    assert s.openai_api_keys == ["ka", ""]  # index-aligned, missing keys are empty
    assert s.ollama_base_urls == ["http://ollama:11434"]
    assert s.openai_api_configs == {"0": {"prefix_id": "a"}}


def test_sqlite_default_lives_in_data_dir(tmp_path: Path):
    s = Settings(DATA_DIR=tmp_path)
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'wayline.db'}"
    assert s.is_sqlite


def test_secret_key_alias_and_generation(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("WEBUI_JWT_SECRET_KEY", "from-the-old-name")
    assert Settings(DATA_DIR=tmp_path).secret_key == "from-the-old-name"
    monkeypatch.delenv("WEBUI_JWT_SECRET_KEY")
    generated = Settings(DATA_DIR=tmp_path).secret_key
    assert len(generated) >= 32
    assert (
        Settings(DATA_DIR=tmp_path).secret_key == generated
    )  # persisted, so restarts keep sessions


def test_invalid_connection_config_is_named():
    with pytest.raises(ValueError, match="OPENAI_API_CONFIGS"):
        _ = Settings(OPENAI_API_CONFIGS="[1, 2]").openai_api_configs  # the property parses


def test_cli_refuses_several_workers_without_redis(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "wayline", "serve", "--workers", "2"],
        env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "REDIS_URL": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "REDIS_URL" in proc.stderr
