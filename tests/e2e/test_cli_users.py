"""`wayline user …` against the database a real `wayline serve` uses: accounts the CLI creates
sign in over HTTP, the last admin stays an admin, and a password reset ends old sessions (at
once with REDIS_URL, within AUTH_CACHE_TTL without)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer
from tests.e2e.cli import REDIS_URL, cli_env, ok, one_line_failure, redis_up, wayline

pytestmark = pytest.mark.e2e


def signin(server: LiveServer, email: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/auths/signin", json={"email": email, "password": password}
    )


def me(server: LiveServer, token: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/auths/", headers={"Authorization": f"Bearer {token}"})


def create(
    env: dict[str, str], email: str, role: str, password: str | None, name: str = "Someone"
) -> subprocess.CompletedProcess[str]:
    """`wayline user create`, the password on stdin (None: no --password-stdin)."""
    args = ["user", "create", "--email", email, "--name", name, "--role", role]
    if password is None:
        return wayline(*args, env=env)
    return wayline(*args, "--password-stdin", env=env, stdin=f"{password}\n")


def reset(env: dict[str, str], email: str, password: str) -> subprocess.CompletedProcess[str]:
    return wayline(
        "user", "reset-password", email, "--password-stdin", env=env, stdin=f"{password}\n"
    )


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    # The live server's DATA_DIR and database (see `live_server_factory`).
    return cli_env(tmp_path / "live-data", database_url)


def test_closed_install_first_admin_roles_and_password_reset(
    live_server_factory: Callable[..., LiveServer], env: dict[str, str]
):
    env = {**env, "AUTH_CACHE_TTL": "1"}  # the server's, which the CLI reports
    ok(wayline("migrate", env=env))
    created = ok(create(env, "Root@Example.com", "admin", "first-pass", name="Root"))
    assert created.stdout.startswith("created admin root@example.com (id ")
    server = live_server_factory(ENABLE_SIGNUP="false", AUTH_CACHE_TTL="1")

    # The account the CLI made signs in over HTTP; nobody can sign up.
    first = signin(server, "root@example.com", "first-pass")
    assert first.status_code == 200 and first.json()["role"] == "admin", first.text
    refused = httpx.post(
        f"{server.url}/api/v1/auths/signup",
        json={"name": "Eve", "email": "eve@example.com", "password": "x"},
    )
    assert refused.status_code == 403

    # Created while the server serves; taken emails and missing passwords are refused.
    ok(create(env, "ann@example.com", "user", "ann-pass", name="Ann"))
    assert signin(server, "ann@example.com", "ann-pass").json()["role"] == "user"
    line = one_line_failure(create(env, "ANN@example.com", "user", "x"))
    assert line == "wayline: a user with email ann@example.com already exists"
    line = one_line_failure(create(env, "bo@example.com", "user", None))
    assert "--password-stdin" in line  # stdin is not a terminal: no prompt to hang on

    listing = ok(wayline("user", "list", env=env)).stdout.splitlines()
    assert listing[0].split() == ["ID", "EMAIL", "NAME", "ROLE", "CREATED"]
    rows = {line.split()[1]: line.split() for line in listing[1:]}
    assert set(rows) == {"root@example.com", "ann@example.com"}
    assert rows["root@example.com"][3] == "admin" and rows["ann@example.com"][3] == "user"

    # The last admin cannot be demoted (as over the API); after a promotion, it can.
    line = one_line_failure(wayline("user", "set-role", "root@example.com", "user", env=env))
    assert "last admin cannot be demoted" in line
    ok(wayline("user", "set-role", "ann@example.com", "admin", env=env))
    ok(wayline("user", "set-role", "root@example.com", "user", env=env))
    assert signin(server, "root@example.com", "first-pass").json()["role"] == "user"
    ok(wayline("user", "set-role", "root@example.com", "admin", env=env))
    assert "no user with email nobody@example.com" in one_line_failure(
        wayline("user", "set-role", "nobody@example.com", "user", env=env)
    )

    # The admin who forgot the only password: reset it; the old session ends.
    token = signin(server, "root@example.com", "first-pass").json()["token"]
    assert me(server, token).status_code == 200  # and now cached by the server
    done = ok(reset(env, "root@example.com", "second-pass"))
    assert "AUTH_CACHE_TTL=1s" in done.stderr  # no REDIS_URL: the server cannot be told
    deadline = time.monotonic() + 15
    while me(server, token).status_code != 401:
        assert time.monotonic() < deadline, "the old JWT still works"
        time.sleep(0.2)
    assert signin(server, "root@example.com", "first-pass").status_code == 400
    assert signin(server, "root@example.com", "second-pass").json()["role"] == "admin"


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
def test_with_redis_running_servers_hear_at_once(
    live_server_factory: Callable[..., LiveServer], env: dict[str, str], tmp_path: Path
):
    bus = {"REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": f"wl-cli-{tmp_path.name}"}
    env = {**env, **bus}
    server = live_server_factory(**bus)  # the default AUTH_CACHE_TTL: 60 s
    ok(create(env, "kim@example.com", "admin", "kim-pass"))
    ok(create(env, "lee@example.com", "user", "lee-pass"))
    lee = signin(server, "lee@example.com", "lee-pass").json()["token"]
    users = f"{server.url}/api/v1/users/"
    assert httpx.get(users, headers={"Authorization": f"Bearer {lee}"}).status_code == 401

    # A promotion reaches the cached session on the next request.
    promoted = ok(wayline("user", "set-role", "lee@example.com", "admin", env=env))
    assert "AUTH_CACHE_TTL" not in promoted.stderr
    assert httpx.get(users, headers={"Authorization": f"Bearer {lee}"}).status_code == 200

    # A reset ends the cached session on the next request, not a minute later.
    kim = signin(server, "kim@example.com", "kim-pass").json()["token"]
    assert me(server, kim).status_code == 200
    ok(reset(env, "kim@example.com", "kim-new"))
    assert me(server, kim).status_code == 401
    assert signin(server, "kim@example.com", "kim-new").status_code == 200
