"""Shared fixtures.

- Every test gets its own database: a fresh SQLite file, or (with
  `WAYLINE_TEST_DATABASE_URL=postgresql://…`) a fresh PostgreSQL database created
  for the test and dropped after it. Migrations run at app start-up, as in production.
- `client` is FastAPI's TestClient (httpx over ASGI) around `create_app(settings)`,
  with the lifespan running, so tests exercise the real app.
- `make_settings(**overrides)` builds `Settings` for a test; `live_server` starts a
  real `wayline serve` process on a free loopback port.
- `admin`, `alice`, `bob` are signed-up accounts (`Account` objects with a JWT and
  an API key) — the first sign-up is the admin.
- No test reaches the network: pytest-socket (`--allow-hosts` in pyproject's addopts)
  refuses connects to anything but loopback and Unix sockets, and `network_guard` fails
  a test for a refused connect even if the code under test caught the refusal.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pytest_socket import SocketConnectBlockedError

from wayline.app import create_app
from wayline.core.settings import Settings

pytest_plugins = ["tests.fakes.fixtures"]

PG_URL = os.environ.get("WAYLINE_TEST_DATABASE_URL", "")
SECRET = "test-secret-key-please-change-0123456789abcdef"


@pytest.fixture(autouse=True)
def network_guard() -> Iterator[list[str]]:
    """The non-loopback connects refused during the test; any still listed at its end fail it.

    pytest-socket's refusal is an exception, which the code under test may well catch (an
    upstream call answering 502, a worker thread logging it), so each refusal is also recorded
    here. A test that expects a refusal clears the list."""
    guarded = socket.socket.connect  # pytest-socket's guard, installed before any fixture
    refused: list[str] = []

    def connect(sock: socket.socket, *args: Any) -> None:
        try:
            return guarded(sock, *args)
        except SocketConnectBlockedError:
            refused.append(repr(args[0]))
            raise

    socket.socket.connect = connect  # type: ignore[method-assign]
    yield refused
    if socket.socket.connect is connect:  # pytest-socket's own teardown may have come first
        socket.socket.connect = guarded  # type: ignore[method-assign]
    if refused:
        pytest.fail(f"the test tried to connect to non-loopback addresses: {refused}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _admin_pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'wayline.db'}"
        return
    name = f"wl_{uuid.uuid4().hex[:16]}"
    _admin_pg(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        _admin_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "DATA_DIR": tmp_path / "data",
            "DATABASE_URL": database_url,
            "WEBUI_SECRET_KEY": SECRET,
            "ENV": "test",
            "OLLAMA_BASE_URLS": "",
            "OPENAI_API_BASE_URLS": "",
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def make_client() -> Iterator[Callable[[Settings], TestClient]]:
    """Start an app for given settings; all are shut down at the end of the test."""
    clients: list[TestClient] = []

    def start(settings: Settings) -> TestClient:
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[[Settings], TestClient], settings: Settings) -> TestClient:
    return make_client(settings)


@dataclass
class Account:
    id: str
    email: str
    password: str
    role: str
    token: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        """Bearer API key headers (what scripts use)."""
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def jwt_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def signup(
    client: TestClient | httpx.Client,
    name: str,
    role: str | None = None,
    admin: Account | None = None,
) -> Account:
    """Sign up `name`; with `admin`, promote the account to `role` (default `user`)."""
    email = f"{name.lower()}@example.com"
    password = f"{name}-password"
    resp = client.post(
        "/api/v1/auths/signup", json={"name": name, "email": email, "password": password}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    client.cookies.clear()  # tests pass credentials explicitly
    if admin is not None and body["role"] != (role or "user"):
        r = client.post(
            "/api/v1/users/update/role",
            json={"id": body["id"], "role": role or "user"},
            headers=admin.jwt_headers,
        )
        assert r.status_code == 200, r.text
        body["role"] = role or "user"
    key = client.post("/api/v1/auths/api_key", headers={"Authorization": f"Bearer {body['token']}"})
    api_key = key.json()["api_key"] if key.status_code == 200 else ""
    return Account(body["id"], email, password, body["role"], body["token"], api_key)


@pytest.fixture
def admin(client: TestClient) -> Account:
    return signup(client, "Admin")


@pytest.fixture
def alice(client: TestClient, admin: Account) -> Account:
    return signup(client, "Alice", admin=admin)


@pytest.fixture
def bob(client: TestClient, admin: Account) -> Account:
    return signup(client, "Bob", admin=admin)


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    env: dict[str, str]

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            (self.process.kill if kill else self.process.terminate)()
            self.process.wait(timeout=20)


def start_server(
    env_overrides: dict[str, str], data_dir: Path, database_url: str, port: int | None = None
) -> LiveServer:
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OLLAMA_"))}
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url,
            "WEBUI_SECRET_KEY": SECRET,
            "ENV": "test",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(env_overrides)
    # The child keeps its own copy of the log's descriptor; this process needs only the name.
    with open(data_dir.parent / f"server-{port}.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wayline", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"wayline serve exited with {proc.returncode}; see {log.name}")
        try:
            if httpx.get(url + "/ready", timeout=1).status_code == 200:
                return LiveServer(url, proc, env)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("wayline serve did not become ready in 120 s")


@pytest.fixture
def live_server_factory(tmp_path: Path, database_url: str) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(port: int | None = None, **env: str) -> LiveServer:
        data_dir = tmp_path / "live-data"
        data_dir.mkdir(exist_ok=True)
        server = start_server(env, data_dir, database_url, port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def live_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_server_factory()
