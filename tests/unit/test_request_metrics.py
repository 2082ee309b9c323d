"""The pieces behind `/metrics` that a request cannot show: overlapping upstream waits counted
once, a client gone before any answer, and the workers' metrics directory of `wayline serve`."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from starlette.types import Message, Receive, Scope, Send

from wayline.cli.serve import _shared_metrics
from wayline.core.metrics import MULTIPROCESS_DIR, REQUESTS
from wayline.core.request_metrics import RequestMetricsMiddleware, UpstreamWaits


def test_overlapping_waits_count_once() -> None:
    waits = UpstreamWaits()
    assert not waits.waited
    waits.begin()
    time.sleep(0.02)
    waits.begin()  # a second call while the first is still waiting
    time.sleep(0.02)
    waits.end()
    time.sleep(0.02)
    waits.end()
    time.sleep(0.02)  # not waiting: not counted
    assert waits.waited
    assert 0.06 <= waits.seconds < 0.075
    waits.begin()
    time.sleep(0.01)
    assert waits.total(time.perf_counter()) >= waits.seconds + 0.01  # an open wait counts too


def test_a_client_gone_before_any_answer_is_a_499() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the client hangs up: nothing is answered

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        raise AssertionError("nothing should be sent")

    counted = REQUESTS.labels("unmatched", "499")
    before = counted._value.get()
    scope = {"type": "http", "method": "POST", "path": "/api/chat/completions", "headers": []}
    asyncio.run(RequestMetricsMiddleware(app)(scope, receive, send))
    assert counted._value.get() == before + 1


def test_serve_makes_a_fresh_directory_for_several_workers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(MULTIPROCESS_DIR, raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    with _shared_metrics(1):
        assert MULTIPROCESS_DIR not in os.environ  # one process: nothing to share
    with _shared_metrics(2):
        made = Path(os.environ[MULTIPROCESS_DIR])
        assert made.parent == tmp_path and list(made.iterdir()) == []
        (made / "counter_123.db").write_bytes(b"x")
    assert MULTIPROCESS_DIR not in os.environ and not made.exists()


def test_serve_clears_an_operators_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    given = tmp_path / "prom"
    given.mkdir()
    (given / "counter_99.db").write_bytes(b"left by an earlier run")
    (given / "notes.txt").write_text("not ours")
    monkeypatch.setenv(MULTIPROCESS_DIR, str(given))
    with _shared_metrics(2):
        assert os.environ[MULTIPROCESS_DIR] == str(given)
        assert sorted(p.name for p in given.iterdir()) == ["notes.txt"]
    assert os.environ[MULTIPROCESS_DIR] == str(given) and given.is_dir()
