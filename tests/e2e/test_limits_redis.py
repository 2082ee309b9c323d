"""Per-key limits on real `wayline serve` processes: counted in Redis, they hold across servers
sharing it; the in-flight limit is held until a stream ends or its client goes away (in Redis and
in memory); with Redis gone, requests pass (fail open) and the metric counts them."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import LiveServer, free_port
from tests.e2e.cli import REDIS_URL, start_redis
from tests.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

CHAT = "/api/chat/completions"
HI = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own, removed afterwards."""
    name = f"wl-limits-{uuid.uuid4().hex[:8]}"
    yield name
    shared = redis.Redis.from_url(REDIS_URL)
    for key in shared.scan_iter(f"{name}:*"):
        shared.delete(key)
    shared.close()


def gateway_env(fake: FakeUpstream, **extra: str) -> dict[str, str]:
    return {
        "OPENAI_API_BASE_URLS": fake.openai_url,
        "OPENAI_API_KEYS": "sk-fake-upstream",
        "ENABLE_OLLAMA_API": "false",
        **extra,
    }


def admin_token(url: str) -> str:
    signed = httpx.post(
        f"{url}/api/v1/auths/signup",
        json={"name": "Admin", "email": "admin@example.com", "password": "admin-password"},
    )
    assert signed.status_code == 200, signed.text
    return str(signed.json()["token"])


def limited_key(url: str, token: str, **limits: Any) -> dict[str, str]:
    resp = httpx.post(
        f"{url}/api/v1/auths/api_keys", headers={"Authorization": f"Bearer {token}"}, json=limits
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['api_key']}"}


def chat(url: str, headers: dict[str, str], body: dict[str, Any] = HI) -> httpx.Response:
    return httpx.post(f"{url}{CHAT}", headers=headers, json=body, timeout=30)


def test_rpm_holds_across_two_servers_sharing_redis(
    live_server_factory: Callable[..., LiveServer], fake_upstream: FakeUpstream, prefix: str
) -> None:
    env = gateway_env(fake_upstream, REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=prefix)
    one, two = live_server_factory(**env), live_server_factory(**env)
    key = limited_key(one.url, admin_token(one.url), rpm_limit=10)
    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(lambda i: chat((one, two)[i % 2].url, key), range(30)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * 10 + [429] * 20
    assert len(fake_upstream.requests_to("/v1/chat/completions")) == 10
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.json()["error"]["type"] == "rate_limit_exceeded"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert int(refused.headers["retry-after"]) >= 1


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "memory"])
def test_parallel_limit_is_held_until_the_stream_ends_or_its_client_leaves(
    live_server_factory: Callable[..., LiveServer],
    fake_upstream: FakeUpstream,
    prefix: str,
    shared: bool,
) -> None:
    env = gateway_env(fake_upstream)
    if shared:
        env.update(REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=prefix)
    servers = [live_server_factory(**env)]
    if shared:
        servers.append(live_server_factory(**env))
    first, other = servers[0], servers[-1]
    key = limited_key(first.url, admin_token(first.url), max_parallel_requests=1)
    fake_upstream.token_delay = 0.05
    streaming = {**HI, "stream": True, "max_tokens": 20}  # about a second of tokens

    with (
        httpx.Client(base_url=first.url, timeout=30) as http,
        http.stream("POST", CHAT, json=streaming, headers=key) as resp,
    ):
        assert resp.status_code == 200
        chunks = resp.iter_bytes()
        assert b"chat.completion.chunk" in next(chunks)
        busy = chat(other.url, key)  # while the stream runs: its place is taken
        assert busy.status_code == 429, busy.text
        assert "in flight" in busy.json()["detail"]
        assert b"[DONE]" in b"".join(chunks)
    assert chat(other.url, key).status_code == 200  # the stream ended: its place is free

    # A client that leaves mid-stream frees its place too.
    long_stream = {**streaming, "max_tokens": 400}  # 20 s unless cancelled
    with (
        httpx.Client(base_url=first.url, timeout=30) as http,
        http.stream("POST", CHAT, json=long_stream, headers=key) as resp,
    ):
        assert b"chat.completion.chunk" in next(resp.iter_bytes())
    assert fake_upstream.wait_disconnect(10)
    deadline = time.monotonic() + 5
    while (answer := chat(other.url, key)).status_code == 429 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert answer.status_code == 200, answer.text


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis server of the test's own, which the test may stop."""
    port = free_port()
    proc = start_redis(port, tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    yield url, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def fail_open_count(url: str, token: str) -> float:
    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}).text
    line = next(x for x in text.splitlines() if x.startswith("wayline_ratelimit_fail_open_total"))
    return float(line.split()[-1])


def test_requests_pass_when_redis_is_down_and_the_metric_counts_them(
    live_server_factory: Callable[..., LiveServer],
    fake_upstream: FakeUpstream,
    private_redis: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, redis_server = private_redis
    server = live_server_factory(**gateway_env(fake_upstream, REDIS_URL=url))
    token = admin_token(server.url)
    key = limited_key(server.url, token, rpm_limit=1)
    assert chat(server.url, key).status_code == 200
    assert chat(server.url, key).status_code == 429  # counted in Redis while it answers
    assert fail_open_count(server.url, token) == 0

    redis_server.kill()
    redis_server.wait(10)
    answers = [chat(server.url, key) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert all("x-ratelimit-limit-requests" not in a.headers for a in answers)  # nothing known
    assert fail_open_count(server.url, token) == 5
