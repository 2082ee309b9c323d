"""Running `wayline …` commands as a subprocess, as an operator would: shared by the CLI tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import SECRET

REDIS_URL = "redis://127.0.0.1:6379/0"


def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """A Redis server of the test's own on `port` (nothing saved), once it answers: a test may
    stop it to play an outage, and start it again on the same port."""
    import time

    import redis

    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                return proc
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    raise
                time.sleep(0.05)
    finally:
        client.close()


def cli_env(
    data_dir: Path, database_url: str | None = None, *, secret: str | None = SECRET, **extra: str
) -> dict[str, str]:
    """The test runner's environment without any Wayline setting, plus the given ones."""
    from wayline.core.settings import Settings

    names = {*Settings.model_fields, "WEBUI_JWT_SECRET_KEY"}
    env = {k: v for k, v in os.environ.items() if k not in names}
    env["DATA_DIR"] = str(data_dir)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    if secret is not None:
        env["WEBUI_SECRET_KEY"] = secret
    env.update(extra)
    return env


def wayline(
    *args: str, env: dict[str, str], stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wayline", *args],
        env=env,
        input=stdin,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc


def one_line_failure(proc: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("wayline: "), proc.stderr
    return lines[0]


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False
