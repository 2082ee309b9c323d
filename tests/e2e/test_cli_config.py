"""`wayline config`: every setting, its effective value and where it came from (env, `.env`,
default), with secrets redacted; invalid values are one line each and exit 1."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SECRET

pytestmark = pytest.mark.e2e


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The test runner's environment without any Wayline setting, plus the given ones."""
    from wayline.core.settings import Settings

    names = {*Settings.model_fields, "WEBUI_JWT_SECRET_KEY"}
    env = {k: v for k, v in os.environ.items() if k not in names}
    env.update(DATA_DIR=str(data_dir), **extra)
    return env


def config(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wayline", "config"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def table(stdout: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in stdout.splitlines()[1:]:
        if not line.strip():
            break
        name, value, source = re.split(r"\s{2,}", line, maxsplit=2)
        rows[name] = (value, source)
    return rows


def test_values_sources_and_redaction(tmp_path: Path):
    from wayline.core.settings import Settings

    (tmp_path / ".env").write_text(
        "WEBUI_NAME=From dotenv\nPORT=1234\nOPENAI_API_KEY=sk-from-dotenv-0123\n"
    )
    env = cli_env(
        tmp_path / "data",
        PORT="9000",  # also in .env: the environment wins, as in the server
        WEBUI_JWT_SECRET_KEY=SECRET,  # Open WebUI's older name
        DATABASE_URL="postgresql://wl:hunter2@db.internal:5432/wayline",
        REDIS_URL="redis://:redis-pass@cache:6379/0",
        OPENAI_API_BASE_URLS="https://user:basic-pass@a.example/v1;https://tok-42@b.example/v1",
        OPENAI_API_CONFIGS='{"0": {"prefix_id": "a", "key": "cfg-secret"}}',
        CUSTOM_API_KEY_HEADER="x-wayline-key",
    )
    proc = config(env, tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    rows = table(proc.stdout)
    assert list(rows) == list(Settings.model_fields)  # every setting, once, in order
    assert rows["PORT"] == ("9000", "env")
    assert rows["WEBUI_NAME"] == ("'From dotenv'", ".env")
    assert rows["LOG_LEVEL"] == ("'INFO'", "default")
    assert rows["ENABLE_SIGNUP"] == ("True", "default")
    assert rows["DATA_DIR"] == (repr(str(tmp_path / "data")), "env")
    assert rows["WEBUI_SECRET_KEY"] == ("<redacted>", "env (WEBUI_JWT_SECRET_KEY)")
    assert rows["OPENAI_API_KEY"] == ("<redacted>", ".env")
    assert rows["RAG_OPENAI_API_KEY"] == ("''", "default")  # unset: shown as unset
    assert rows["DATABASE_URL"][0] == "'postgresql://wl:***@db.internal:5432/wayline'"
    assert rows["REDIS_URL"][0] == "'redis://:***@cache:6379/0'"
    assert rows["OPENAI_API_BASE_URLS"][0] == (
        "'https://user:***@a.example/v1;https://***@b.example/v1'"
    )
    assert "cfg-secret" not in rows["OPENAI_API_CONFIGS"][0]
    assert "prefix_id" in rows["OPENAI_API_CONFIGS"][0]
    assert rows["CUSTOM_API_KEY_HEADER"] == ("'x-wayline-key'", "env")  # a name, not a secret
    for secret in (SECRET, "hunter2", "redis-pass", "basic-pass", "tok-42", "sk-from-dotenv"):
        assert secret not in proc.stdout
    assert "database: postgresql+asyncpg://wl:***@db.internal:5432/wayline" in proc.stdout


def test_the_generated_secret_key_is_named_not_shown(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / ".webui_secret_key").write_text("generated-secret-value")
    proc = config(cli_env(data), tmp_path)
    assert proc.returncode == 0, proc.stderr
    value, source = table(proc.stdout)["WEBUI_SECRET_KEY"]
    assert value == "<redacted>" and str(data / ".webui_secret_key") in source
    assert "generated-secret-value" not in proc.stdout
    assert f"database: SQLite at {(data / 'wayline.db').resolve()}" in proc.stdout


def test_invalid_values_one_line_each_exit_1(tmp_path: Path):
    (tmp_path / ".env").write_text("LOG_LEVEL=LOUD\n")
    env = cli_env(tmp_path / "data", PORT="http", OPENAI_API_CONFIGS="[1]")
    proc = config(env, tmp_path)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 3, proc.stderr
    assert all(line.startswith("wayline: ") for line in lines)
    assert any(line.startswith("wayline: PORT='http' is invalid") for line in lines)
    assert any("LOG_LEVEL='LOUD' is not one of" in line for line in lines)
    assert any("OPENAI_API_CONFIGS" in line for line in lines)
