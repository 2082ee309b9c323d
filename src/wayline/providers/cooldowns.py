"""Which deployments are cooling down, and until when: one board that every process shares.

The router reads the board on every request, so a read is a dict lookup in this process, never
I/O. A change is applied here at once, then shared: with `REDIS_URL`, written to one Redis hash
(`<prefix>:upstream-cooldowns`, deployment key -> end and reason) and announced on the bus, so
the other processes apply it at their next event-loop turn; a process that starts, or missed a
message, reads the hash (`sync`, at start-up and on each health round). Without Redis the board
is this process's own. Times are wall-clock seconds, the one clock processes share.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from wayline.core.bus import Bus

log = logging.getLogger("wayline.providers")

COOLDOWN_TOPIC = "providers.cooldown"


# Why a deployment is out: its error rate (time-outs, 5xx, 429), or it refused the model
# (401/403/404).
CooldownReason = Literal["failures", "refused"]


@dataclass(frozen=True)
class Cooldown:
    until: float  # wall clock
    reason: CooldownReason


class CooldownBoard:
    def __init__(self, bus: Bus, redis_url: str = "", prefix: str = "wayline") -> None:
        self._bus = bus
        self._ends: dict[str, Cooldown] = {}
        self._hash = f"{prefix}:upstream-cooldowns"
        self._redis: Any = None
        if redis_url:
            import redis.asyncio as redis

            self._redis = redis.from_url(redis_url)
        self._sharing: set[asyncio.Task[None]] = set()
        bus.subscribe(COOLDOWN_TOPIC, self._on_message)

    # --- reading (the hot path) -------------------------------------------------------------
    def cooling(self, key: str, now: float) -> bool:
        found = self._ends.get(key)
        return found is not None and found.until > now

    def get(self, key: str) -> Cooldown | None:
        found = self._ends.get(key)
        return found if found is not None and found.until > time.time() else None

    def any(self) -> bool:
        now = time.time()
        return any(c.until > now for c in self._ends.values())

    def until(self, key: str) -> float:
        found = self._ends.get(key)
        return found.until if found is not None else 0.0

    # --- changing ------------------------------------------------------------------------------
    def start(self, key: str, seconds: float, reason: CooldownReason) -> float:
        until = time.time() + seconds
        self._ends[key] = Cooldown(until, reason)
        self._share({"key": key, "until": until, "reason": reason})
        return until

    def end(self, key: str) -> None:
        """End a cooldown early (a probe found the deployment healthy)."""
        if self._ends.pop(key, None) is not None:
            self._share({"key": key, "until": 0.0, "reason": ""})

    def _apply(self, key: str, until: float, reason: CooldownReason) -> None:
        if until > time.time():
            self._ends[key] = Cooldown(until, reason)
        else:
            self._ends.pop(key, None)

    def _on_message(self, message: dict[str, Any]) -> None:
        key, until, reason = message.get("key"), message.get("until"), message.get("reason")
        if not isinstance(key, str) or not isinstance(until, int | float):
            return
        if not until:
            self._ends.pop(key, None)
        elif reason == "failures" or reason == "refused":
            self._apply(key, float(until), reason)

    def _share(self, message: dict[str, Any]) -> None:
        """In the background: the request that caused the change does not wait for Redis."""
        if not self._bus.shared and self._redis is None:
            return
        task = asyncio.create_task(self._publish(message))
        self._sharing.add(task)
        task.add_done_callback(self._sharing.discard)

    async def _publish(self, message: dict[str, Any]) -> None:
        try:
            if self._redis is not None:
                if message["until"]:
                    value = orjson.dumps({"until": message["until"], "reason": message["reason"]})
                    async with self._redis.pipeline(transaction=True) as pipe:
                        pipe.hset(self._hash, message["key"], value)
                        # The hash outlives the last cooldown by a second: each start, ending
                        # after every earlier one (one setting for all), pushes its expiry.
                        pipe.expireat(self._hash, int(message["until"]) + 1)
                        await pipe.execute()
                else:
                    await self._redis.hdel(self._hash, message["key"])
            await self._bus.publish(COOLDOWN_TOPIC, message)
        except Exception as exc:  # Redis down: this process still keeps its own board
            log.warning("sharing a cooldown failed: %s", exc)

    async def sync(self) -> None:
        """Read the shared hash: cooldowns started elsewhere before this process listened, or
        whose message it missed."""
        if self._redis is None:
            return
        try:
            raw = await self._redis.hgetall(self._hash)
        except Exception as exc:
            log.warning("reading the shared cooldowns failed: %s", exc)
            return
        for key, value in raw.items():  # merged: a start of ours may be on its way there
            with contextlib.suppress(ValueError, TypeError, KeyError):
                data = orjson.loads(value)
                self._on_message({"key": key.decode(), **data})

    async def close(self) -> None:
        for task in list(self._sharing):
            with contextlib.suppress(Exception):
                await task
        if self._redis is not None:
            await self._redis.aclose()
