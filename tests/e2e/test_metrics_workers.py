"""`GET /metrics` under `wayline serve --workers 2`: whichever worker answers, it reports the sum
over both; the directory that holds the workers' values is made for the run and removed after."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import LiveServer, signup
from tests.fakes.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

CHAT = "/api/chat/completions"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Why is the sky blue?"}]}


def chats_counted(samples: object) -> float:
    """`wayline_requests_total{route=CHAT,status="200"}` among prometheus-client samples."""
    return sum(
        s.value
        for family in samples  # type: ignore[attr-defined]
        for s in family.samples
        if s.name == "wayline_requests_total" and s.labels == {"route": CHAT, "status": "200"}
    )


def per_worker(directory: Path) -> dict[str, float]:
    """Each worker's own count, read from its file (`counter_<pid>.db`)."""
    return {
        path.stem.removeprefix("counter_"): chats_counted(MultiProcessCollector.merge([str(path)]))
        for path in directory.glob("counter_*.db")
    }


def test_two_workers_report_one_sum(
    live_server_factory: Callable[..., LiveServer], fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    scratch = tmp_path / "tmp"  # the server's TMPDIR: where it makes the metrics directory
    scratch.mkdir()
    server = live_server_factory(
        OPENAI_API_BASE_URLS=fake_upstream.openai_url,
        OPENAI_API_KEYS="sk-fake-upstream",
        OLLAMA_BASE_URLS="",
        UVICORN_WORKERS="2",
        REDIS_URL="redis://127.0.0.1:6379/0",
        REDIS_KEY_PREFIX=f"wl-test-{uuid.uuid4().hex[:8]}",
        TMPDIR=str(scratch),
    )
    (directory,) = scratch.glob("wayline-metrics-*")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        admin = signup(http, "Admin")

    def one_chat(_: int) -> int:
        # A connection of its own each: the workers take turns accepting them. A connection
        # reset before any answer (seen once, on a loaded machine) is tried again; a reset
        # request that a worker did count would show in the sum below.
        for attempt in range(3):
            try:
                return httpx.post(
                    server.url + CHAT, json=BODY, headers=admin.headers, timeout=30
                ).status_code
            except (httpx.ConnectError, httpx.ReadError):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    sent = 0
    with ThreadPoolExecutor(8) as pool:
        # Rounds until both workers have answered some (after the first one, nearly always).
        for _ in range(10):
            statuses = list(pool.map(one_chat, range(24)))
            assert statuses == [200] * 24
            sent += 24
            counts = per_worker(directory)
            if len(counts) == 2 and all(counts.values()):
                break
    assert len(counts) == 2 and all(counts.values()), counts
    assert sum(counts.values()) == sent

    # Any worker's answer is the sum: scrape several times, each on a new connection.
    for _ in range(4):
        resp = httpx.get(server.url + "/metrics", headers=admin.headers, timeout=30)
        assert resp.status_code == 200, resp.text
        assert chats_counted(text_string_to_metric_families(resp.text)) == sent

    server.stop()
    assert server.process.returncode == 0
    assert not directory.exists()
