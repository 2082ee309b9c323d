"""Invalidation messages between workers and replicas.

Caches in a worker (credentials, model lists, runtime config) must drop entries
when another worker changes the truth. With `REDIS_URL` set, messages travel on
a Redis pub/sub channel and reach every replica; without it they stay in the
process, which is correct for a single worker (the CLI refuses `--workers > 1`
without Redis for that reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from wayline.core.tasks import stop_tasks

log = logging.getLogger("wayline.bus")

Handler = Callable[[dict[str, Any]], Awaitable[None] | None]


class Bus(Protocol):
    shared: bool
    """True when messages reach other processes."""

    def subscribe(self, topic: str, handler: Handler) -> None: ...
    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...
    async def start(self) -> None: ...
    async def close(self) -> None: ...


class LocalBus:
    shared = False

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic].append(handler)

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        await self._dispatch(topic, message)

    async def _dispatch(self, topic: str, message: dict[str, Any]) -> None:
        for handler in self._handlers.get(topic, []):
            try:
                result = handler(message)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("bus handler for %s failed", topic)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


RECONNECTED = "bus.reconnected"
"""Dispatched in this process when the Redis subscription comes back after a loss: messages
may have been missed meanwhile, so caches that follow the bus drop what they hold."""


class RedisBus(LocalBus):
    """Publishes to Redis; every process (this one included) dispatches what it receives.

    Redis unreachable: a change is still applied in this process (the database holds it) and
    its message is dropped with a warning (at most once a minute), so other processes see it
    when their caches expire; the subscription is retried every `RETRY_SECONDS` and, once
    back, `RECONNECTED` is dispatched here for the caches to start afresh."""

    shared = True
    RETRY_SECONDS = 1.0
    LOG_EVERY_SECONDS = 60.0
    START_SECONDS = 10.0
    """How long a starting replica waits for Redis (it may start first) before refusing."""

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_connect_timeout=2, health_check_interval=10)
        self._channel = f"{prefix}:bus"
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._warned_at = -math.inf
        self._start_error: BaseException | None = None
        parts = urlsplit(url)
        self._where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="redis-bus")
        try:
            async with asyncio.timeout(self.START_SECONDS):
                await self._ready.wait()
        except TimeoutError:
            await stop_tasks([self._task])
            error = self._start_error
            reason = f"{type(error).__name__}: {error}" if error else "no answer"
            raise RuntimeError(
                f"Redis at {self._where} (REDIS_URL) is unreachable after "
                f"{self.START_SECONDS:g} s ({reason})"
            ) from None

    async def _listen(self) -> None:
        lost = False
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                self._ready.set()
                if lost:
                    log.warning("Redis is back: the bus is shared again")
                    await self._dispatch(RECONNECTED, {})
                    lost = False
                async for raw in pubsub.listen():
                    if raw.get("type") != "message":
                        continue
                    envelope = orjson.loads(raw["data"])
                    await self._dispatch(envelope["topic"], envelope["message"])
                lost = True  # the server closed the subscription
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._ready.is_set():
                    lost = True
                    self._warn("subscription lost", exc)
                else:  # starting: `start` waits a while for Redis, then refuses
                    self._start_error = exc
                await asyncio.sleep(self.RETRY_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        # Apply locally at once (the next request in this worker must see it), then fan out.
        await self._dispatch(topic, message)
        try:
            await self._redis.publish(
                self._channel, orjson.dumps({"topic": topic, "message": message})
            )
        except Exception as exc:
            self._warn(f"'{topic}' not sent to other processes", exc)

    def _warn(self, what: str, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned_at >= self.LOG_EVERY_SECONDS:
            self._warned_at = now
            log.warning(
                "Redis unreachable (%s: %s): %s; other processes catch up as their caches "
                "expire, and at once when Redis is back",
                type(exc).__name__,
                exc,
                what,
            )

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._redis.aclose()


def create_bus(redis_url: str, prefix: str) -> Bus:
    return RedisBus(redis_url, prefix) if redis_url else LocalBus()
