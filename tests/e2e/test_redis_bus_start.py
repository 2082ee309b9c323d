"""A replica's bus at start-up against a real Redis server: it waits for a Redis that starts
after it (replicas and Redis may come up in any order), and refuses, naming the address, when
none answers in time."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.e2e.cli import start_redis
from wayline.core.bus import RedisBus


def test_a_bus_started_before_redis_waits_for_it_and_then_carries_messages(tmp_path: Path):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    started: list[Any] = []
    # Redis comes up 1.5 s after the bus starts asking for it.
    timer = threading.Timer(1.5, lambda: started.append(start_redis(port, tmp_path)))

    async def main() -> list[dict[str, Any]]:
        first, second = RedisBus(url, "wl-start"), RedisBus(url, "wl-start")
        received: list[dict[str, Any]] = []
        second.subscribe("topic", received.append)
        timer.start()
        try:
            await asyncio.gather(first.start(), second.start())
            await first.publish("topic", {"n": 1})
            for _ in range(100):
                if received:
                    break
                await asyncio.sleep(0.02)
            return received
        finally:
            await first.close()
            await second.close()

    try:
        assert asyncio.run(main()) == [{"n": 1}]
    finally:
        timer.cancel()
        for proc in started:
            proc.kill()
            proc.wait()


def test_a_bus_refuses_to_start_naming_redis_when_none_answers():
    port = free_port()
    bus = RedisBus(f"redis://:secret@127.0.0.1:{port}/0", "wl-start")
    bus.START_SECONDS = 1.0

    async def main() -> None:
        try:
            await bus.start()
        finally:
            await bus.close()

    began = time.monotonic()
    with pytest.raises(RuntimeError) as refused:
        asyncio.run(main())
    message = str(refused.value)
    assert message.startswith(f"Redis at 127.0.0.1:{port} (REDIS_URL) is unreachable after 1 s")
    assert "ConnectionError" in message
    assert "secret" not in message
    assert time.monotonic() - began < 5
