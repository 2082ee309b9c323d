"""A deployment cooled down by one `wayline serve` is left out by every server sharing its Redis:
those running (told on the bus) and one started afterwards (it reads the shared hash)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import LiveServer
from tests.fakes.upstream import FakeUpstream

REDIS_URL = "redis://127.0.0.1:6379/0"
CHAT = "/v1/chat/completions"


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"wl-test-{uuid.uuid4().hex[:8]}"
    yield name
    shared = redis.Redis.from_url(REDIS_URL)
    for key in shared.scan_iter(f"{name}:*"):
        shared.delete(key)
    shared.close()


def admin_key(url: str) -> dict[str, str]:
    signed = httpx.post(
        f"{url}/api/v1/auths/signup",
        json={"name": "Admin", "email": "admin@example.com", "password": "admin-password"},
    )
    assert signed.status_code == 200, signed.text
    token = signed.json()["token"]
    key = httpx.post(f"{url}/api/v1/auths/api_key", headers={"Authorization": f"Bearer {token}"})
    return {"Authorization": f"Bearer {key.json()['api_key']}"}


def chat(server: LiveServer, headers: dict[str, str]) -> Any:
    resp = httpx.post(
        f"{server.url}/api/chat/completions",
        headers=headers,
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"] == "Echo: hi"


def state_of_a(server: LiveServer, headers: dict[str, str]) -> str:
    rows = httpx.get(f"{server.url}/api/v1/connections/health", headers=headers).json()
    return next(
        row["state"]
        for row in rows["deployments"]
        if row["model"] == "gpt-4o-mini" and row["connection"]["index"] == 0
    )


def test_a_cooldown_is_shared_through_redis(
    live_server_factory: Callable[..., LiveServer],
    fake_upstream: FakeUpstream,
    second_upstream: FakeUpstream,
    prefix: str,
) -> None:
    a, b = fake_upstream, second_upstream
    env = {
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": prefix,
        "OPENAI_API_BASE_URLS": f"{a.openai_url};{b.openai_url}",
        "OPENAI_API_KEYS": "sk-a;sk-b",
        # Listed from the config, so a server started while A is down still knows A serves it
        # (its probe asks A's `/models` all the same, and fails).
        "OPENAI_API_CONFIGS": json.dumps({i: {"model_ids": ["gpt-4o-mini"]} for i in "01"}),
        "ENABLE_OLLAMA_API": "false",
    }
    one, two = live_server_factory(**env), live_server_factory(**env)
    headers = admin_key(one.url)
    a.fail(status=500, message="A is down")  # every path: its probes fail too
    for _ in range(60):
        chat(one, headers)  # retried on B: never an error
        if len(a.requests_to(CHAT)) >= 3:
            break
    assert len(a.requests_to(CHAT)) == 3 and state_of_a(one, headers) == "cooling_down"

    deadline = time.monotonic() + 5
    while state_of_a(two, headers) != "cooling_down" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state_of_a(two, headers) == "cooling_down"  # the other server was told
    for _ in range(10):
        chat(two, headers)
    assert len(a.requests_to(CHAT)) == 3  # and sent A nothing

    three = live_server_factory(**env)  # started after the cooldown began
    assert state_of_a(three, headers) == "cooling_down"
    for _ in range(5):
        chat(three, headers)
    assert len(a.requests_to(CHAT)) == 3
    assert len(b.requests_to(CHAT)) >= 18  # the retries on B, then every call
