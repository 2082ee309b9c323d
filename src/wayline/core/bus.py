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
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

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


class RedisBus(LocalBus):
    """Publishes to Redis; every process (this one included) dispatches what it receives."""

    shared = True

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._channel = f"{prefix}:bus"
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen())
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._channel)
        self._ready.set()
        try:
            async for raw in pubsub.listen():
                if raw.get("type") != "message":
                    continue
                envelope = orjson.loads(raw["data"])
                await self._dispatch(envelope["topic"], envelope["message"])
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        # Apply locally at once (the next request in this worker must see it), then fan out.
        await self._dispatch(topic, message)
        await self._redis.publish(self._channel, orjson.dumps({"topic": topic, "message": message}))

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._redis.aclose()


def create_bus(redis_url: str, prefix: str) -> Bus:
    return RedisBus(redis_url, prefix) if redis_url else LocalBus()
