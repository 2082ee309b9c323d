"""A setting whose code ships in an extra stops `wayline serve` at start, in one line that
names the extra to install. The extra is hidden from the server process by a
`sitecustomize` that makes its top-level module unfindable, as on a default install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SECRET, free_port

pytestmark = pytest.mark.e2e

HIDE = """
import importlib.util as _util

_find_spec = _util.find_spec


def _hidden(name, *args, **kwargs):
    if name.split(".")[0] in {hidden!r}:
        return None
    return _find_spec(name, *args, **kwargs)


_util.find_spec = _hidden
"""


def serve_without(
    tmp_path: Path, modules: set[str], **env: str
) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(HIDE.format(hidden=modules), encoding="utf-8")
    pythonpath = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "wayline", "serve", "--port", str(free_port())],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": pythonpath,
            "DATA_DIR": str(tmp_path / "data"),
            "WEBUI_SECRET_KEY": SECRET,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "modules, env, extra",
    [
        ({"asyncpg"}, {"DATABASE_URL": "postgresql://u:secret@127.0.0.1:1/db"}, "postgres"),
        ({"redis"}, {"REDIS_URL": "redis://127.0.0.1:1/0"}, "redis"),
        (
            {"sentence_transformers"},
            {"RAG_EMBEDDING_MODEL": "/models/multilingual-e5-small"},
            "torch",
        ),
    ],
    ids=["postgres", "redis", "torch"],
)
def test_a_setting_without_its_extra_stops_serve_in_one_line(
    tmp_path: Path, modules: set[str], env: dict[str, str], extra: str
) -> None:
    proc = serve_without(tmp_path, modules, **env)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert f"pip install 'wayline[{extra}]'" in lines[0]
    assert "Traceback" not in proc.stderr
    assert "secret" not in proc.stderr  # the URL's password is never echoed


def test_the_default_settings_need_no_extra(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    hidden = {"asyncpg", "redis", "sentence_transformers"}
    (site / "sitecustomize.py").write_text(HIDE.format(hidden=hidden), encoding="utf-8")
    pythonpath = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    check = (
        "import importlib.util, sys; from wayline.core.settings import Settings; "
        "assert importlib.util.find_spec('asyncpg') is None; Settings(); print('ok')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", check],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": pythonpath,
            "DATA_DIR": str(tmp_path / "data"),
            "WEBUI_SECRET_KEY": SECRET,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
