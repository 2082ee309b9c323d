"""`.env` in the working directory is read; environment variables win over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from wayline.core.settings import Settings


def test_dotenv_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "WEBUI_NAME=From dotenv\nMODELS_CACHE_TTL=7\n# a comment\nENV=dev\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    for name in ("WEBUI_NAME", "MODELS_CACHE_TTL", "ENV"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.WEBUI_NAME == "From dotenv"
    assert settings.MODELS_CACHE_TTL == 7
    assert settings.ENV == "dev"

    monkeypatch.setenv("WEBUI_NAME", "From the environment")
    assert Settings().WEBUI_NAME == "From the environment"
    assert Settings(WEBUI_NAME="From the caller").WEBUI_NAME == "From the caller"


def test_an_invalid_value_in_dotenv_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("AUDIO_STT_ENGINE=whisper\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUDIO_STT_ENGINE", raising=False)
    with pytest.raises(ValueError, match="AUDIO_STT_ENGINE"):
        Settings()
