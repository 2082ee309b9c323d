"""`wayline key …` against a real `wayline serve`: the key printed (alone on stdout) works as a
Bearer token, `key list` never shows a secret, and a revoked key is refused."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer
from tests.e2e.cli import REDIS_URL, cli_env, ok, one_line_failure, redis_up, wayline

pytestmark = pytest.mark.e2e


def models(server: LiveServer, key: str) -> int:
    return httpx.get(
        f"{server.url}/api/models", headers={"Authorization": f"Bearer {key}"}
    ).status_code


def create_user(env: dict[str, str], email: str, role: str) -> None:
    args = ["user", "create", "--email", email, "--name", "Someone", "--role", role]
    ok(wayline(*args, "--password-stdin", env=env, stdin=f"{email}-pass\n"))


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    # The live server's DATA_DIR and database (see `live_server_factory`).
    return cli_env(tmp_path / "live-data", database_url, AUTH_CACHE_TTL="1")


def test_create_use_list_and_revoke(
    live_server_factory: Callable[..., LiveServer], env: dict[str, str]
):
    server = live_server_factory(AUTH_CACHE_TTL="1")
    create_user(env, "ops@example.com", "admin")
    create_user(env, "dev@example.com", "user")

    made = ok(wayline("key", "create", "--user", "ops@example.com", "--name", "ci", env=env))
    key = made.stdout.strip()
    assert made.stdout == f"{key}\n" and key.startswith("sk-")  # KEY=$(wayline key create …)
    assert "'ci'" in made.stderr and "ops@example.com" in made.stderr
    assert models(server, key) == 200
    shell = subprocess.run(
        [
            "bash",
            "-c",
            f'KEY=$("{sys.executable}" -m wayline key create --user dev@example.com '
            '--name nightly --expires-in-days 7 2>/dev/null) && printf %s "$KEY"',
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    dev_key = shell.stdout
    assert dev_key.startswith("sk-") and models(server, dev_key) == 200

    listing = ok(wayline("key", "list", env=env)).stdout
    assert key not in listing and dev_key not in listing  # never the secret
    lines = listing.splitlines()
    assert lines[0].split()[:4] == ["ID", "USER", "NAME", "KEY"]
    rows = {line.split()[2]: line.split() for line in lines[1:]}
    assert set(rows) == {"ci", "nightly"}
    assert rows["ci"][3] == f"{key[:7]}...{key[-4:]}"  # masked as the API masks it
    assert rows["nightly"][1] == "dev@example.com"
    assert rows["nightly"][6] != "-" and rows["ci"][6] == "-"  # the expiry (date, time)
    only_dev = ok(wayline("key", "list", "--user", "dev@example.com", env=env)).stdout
    assert "nightly" in only_dev and "ops@example.com" not in only_dev

    # Revoked: refused once the server's cache lets go (AUTH_CACHE_TTL=1 here, no Redis).
    revoked = ok(wayline("key", "revoke", rows["ci"][0], env=env))
    assert "revoked key" in revoked.stdout and "AUTH_CACHE_TTL=1s" in revoked.stderr
    deadline = time.monotonic() + 15
    while models(server, key) != 401:
        assert time.monotonic() < deadline, "the revoked key still works"
        time.sleep(0.2)
    assert models(server, dev_key) == 200
    line = one_line_failure(wayline("key", "revoke", rows["ci"][0], env=env))
    assert "no API key with id" in line
    assert "ci" not in ok(wayline("key", "list", env=env)).stdout.split()


def test_refusals_are_one_line(live_server_factory: Callable[..., LiveServer], env):
    live_server_factory()
    create_user(env, "new@example.com", "pending")
    line = one_line_failure(
        wayline("key", "create", "--user", "new@example.com", "--name", "x", env=env)
    )
    assert "pending" in line and "set-role" in line
    line = one_line_failure(
        wayline("key", "create", "--user", "ghost@example.com", "--name", "x", env=env)
    )
    assert line == "wayline: no user with email ghost@example.com"
    too_soon = ["--expires-in-days", "-3"]
    line = one_line_failure(
        wayline("key", "create", "--user", "new@example.com", "--name", "x", *too_soon, env=env)
    )
    assert "expires_in_days" in line
    off = {**env, "ENABLE_API_KEYS": "false"}
    line = one_line_failure(
        wayline("key", "create", "--user", "new@example.com", "--name", "x", env=off)
    )
    assert "ENABLE_API_KEYS" in line


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
def test_with_redis_a_revoked_key_is_refused_at_once(
    live_server_factory: Callable[..., LiveServer], env: dict[str, str], tmp_path: Path
):
    bus = {"REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": f"wl-cli-{tmp_path.name}"}
    env = {**env, **bus}
    server = live_server_factory(**bus)  # the default AUTH_CACHE_TTL: 60 s
    create_user(env, "ops@example.com", "admin")
    key = ok(wayline("key", "create", "--user", "ops@example.com", "--name", "k", env=env))
    secret = key.stdout.strip()
    assert models(server, secret) == 200  # cached by the server from now on
    key_id = ok(wayline("key", "list", env=env)).stdout.splitlines()[1].split()[0]
    revoked = ok(wayline("key", "revoke", key_id, env=env))
    assert revoked.stderr == ""
    assert models(server, secret) == 401
