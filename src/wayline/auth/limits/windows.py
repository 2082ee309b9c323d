"""The counters behind the limits: sliding windows and in-flight leases, in memory or in Redis.

Windows are the `limits` library's sliding-window counters (`limits.aio`): a window of `seconds`
keeps the count of the current period and of the previous one, weighted by how much of it still
overlaps the window, and admits while `floor(previous * previous_ttl / seconds) + current +
amount <= limit`. Its async storages do the work:

- `RedisStorage`, shared by every replica: its acquire script checks and counts in one EVALSHA.
  A correction (`add`, negative to give tokens back) is the same script with no ceiling.
- `MemoryStorage`, this process alone: the window is read, checked and counted with its own
  primitives (`get_sliding_window`, then `incr` on the current period's key), nothing between
  them that could let another request in (the event loop runs one task at a time and the
  storage does not yield). That is the library's acquire, without the reads it repeats, and
  the state comes back with it for the response's headers: 3 storage calls a request instead of
  7, which kept the counters under a tenth of the gateway's own cost.

Leases count requests in flight. In Redis, a sorted set of request ids scored by their lease's
end: a replica that dies holding leases frees them when the lease runs out (`LEASE_SECONDS`).

Redis unreachable: `RedisCounters` raises `CountersDown`, and keeps raising it without trying for
`DOWN_SECONDS`, so an outage costs requests one timeout per period, not one each. The caller lets
the request through (fail open); the outage is logged at most once a minute.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from limits.aio.storage import MemoryStorage, RedisStorage

log = logging.getLogger("wayline.limits")

T = TypeVar("T")

# A correction (`add`) must land even in a full window: acquire against a ceiling never reached.
_UNBOUNDED = 10**15
LEASE_SECONDS = 600  # longer than any stream a replica could still be relaying
DOWN_SECONDS = 5.0
LOG_EVERY_SECONDS = 60.0
# Redis round trips wait this long at most before the request goes through without its limits.
REDIS_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Window:
    key: str
    limit: int
    seconds: int


@dataclass(frozen=True, slots=True)
class WindowState:
    """A window's counts, as `limits` reports them: the previous period's count with the time it
    still weighs (`previous_ttl`), and the current one's with the time until it ends plus one
    period (`current_ttl`)."""

    limit: int
    seconds: int
    previous: int
    previous_ttl: float
    current: int
    current_ttl: float

    @property
    def used(self) -> float:
        return self.previous * self.previous_ttl / self.seconds + self.current

    @property
    def remaining(self) -> int:
        return max(0, self.limit - math.floor(self.used))

    def reset_in(self) -> float:
        """Seconds until the count next drops (the `limits` strategy's own reset)."""
        soonest = math.inf
        if self.previous > 0:
            soonest = self.previous_ttl % (self.seconds / self.previous)
        if self.current > 0:
            soonest = min(soonest, self.current_ttl % self.seconds)
        return 0.0 if soonest == math.inf else soonest

    def wait_for(self, amount: int) -> float:
        """Seconds until `amount` more fits. `limits` admits while
        `floor(previous * previous_ttl / seconds) + current + amount <= limit`: the previous
        period's weight falls linearly as the current period runs out, then the current period
        becomes the previous one."""
        room = self.limit - amount - self.current
        if room >= 0:
            if self.previous <= 0:
                return 0.0
            return max(0.0, self.previous_ttl - (room + 1) * self.seconds / self.previous)
        shift_in = max(0.0, self.current_ttl - self.seconds)
        if self.current <= 0:
            return shift_in
        after = self.seconds - (self.limit - amount + 1) * self.seconds / self.current
        return shift_in + max(0.0, after)


class CountersDown(Exception):
    """The shared counters could not be reached: the request goes through without its limits."""


class Counters(Protocol):
    @property
    def local(self) -> bool:
        """In this process: no call waits for I/O."""
        ...

    async def acquire(self, window: Window, amount: int) -> tuple[bool, WindowState | None]:
        """Count `amount` if it fits in the window; False (nothing counted) if not. With the
        window's state after it, when that comes at no extra cost (in memory)."""
        ...

    async def add(self, window: Window, amount: int) -> None:
        """Correct the count by `amount` (negative to give back), full window or not."""
        ...

    async def state(self, window: Window) -> WindowState: ...

    async def lease(self, key: str, limit: int, member: str) -> bool:
        """Hold one of `limit` in-flight places; False when all are held."""
        ...

    async def unlease(self, key: str, member: str) -> None: ...

    async def close(self) -> None: ...


def _state(window: Window, found: tuple[int, float, int, float]) -> WindowState:
    previous, previous_ttl, current, current_ttl = found
    return WindowState(
        window.limit, window.seconds, int(previous), previous_ttl, int(current), current_ttl
    )


class MemoryCounters:
    """This process's counters (no `REDIS_URL`): each replica counts alone."""

    local = True

    def __init__(self) -> None:
        self._storage = MemoryStorage()
        self._in_flight: dict[str, int] = {}

    async def acquire(self, window: Window, amount: int) -> tuple[bool, WindowState | None]:
        state = await self.state(window)
        weighted = math.floor(state.previous * state.previous_ttl / window.seconds)
        if amount > window.limit or weighted + state.current + amount > window.limit:
            return False, state
        await self._count(window, amount)
        return True, WindowState(
            window.limit,
            window.seconds,
            state.previous,
            state.previous_ttl,
            state.current + amount,
            state.current_ttl,
        )

    async def add(self, window: Window, amount: int) -> None:
        await self._count(window, amount)

    async def _count(self, window: Window, amount: int) -> None:
        _, current = self._storage.sliding_window_keys(window.key, window.seconds, time.time())
        # The library's own expiry for a period's count: twice the window.
        await self._storage.incr(current, 2 * window.seconds, amount)

    async def state(self, window: Window) -> WindowState:
        return _state(window, await self._storage.get_sliding_window(window.key, window.seconds))

    async def lease(self, key: str, limit: int, member: str) -> bool:
        held = self._in_flight.get(key, 0)
        if held >= limit:
            return False
        self._in_flight[key] = held + 1
        return True

    async def unlease(self, key: str, member: str) -> None:
        held = self._in_flight.get(key, 0) - 1
        if held > 0:
            self._in_flight[key] = held
        else:
            self._in_flight.pop(key, None)

    async def close(self) -> None:
        return None


# KEYS[1]: the key's in-flight set. ARGV: limit, lease (ms), request id. Redis' own clock, so
# replicas whose clocks disagree still agree on which leases ran out.
_LEASE = """
local now = redis.call('time')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('zremrangebyscore', KEYS[1], '-inf', now_ms)
if redis.call('zcard', KEYS[1]) >= tonumber(ARGV[1]) then
    return 0
end
redis.call('zadd', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[3])
redis.call('pexpire', KEYS[1], ARGV[2])
return 1
"""


def limits_storage_uri(redis_url: str) -> str:
    """`REDIS_URL` as the `limits` library names it (`async+redis://…`, `async+redis+unix://…`)."""
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    return "async+" + redis_url


class RedisCounters:
    """Counters every replica shares (`REDIS_URL`), under `<REDIS_KEY_PREFIX>:limits`."""

    local = False

    def __init__(self, redis_url: str, prefix: str) -> None:
        import redis.asyncio as redis

        timeouts = {
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
        }
        self._storage = RedisStorage(
            limits_storage_uri(redis_url),
            implementation="redispy",
            key_prefix=f"{prefix}:limits",
            **timeouts,  # type: ignore[arg-type]
        )
        self._redis = redis.from_url(redis_url, **timeouts)
        self._lease = self._redis.register_script(_LEASE)
        self._lease_prefix = f"{prefix}:limits:in-flight:"
        self._down_until = 0.0
        self._logged_at = -math.inf

    async def _guarded(self, call: Callable[[], Awaitable[T]]) -> T:
        if time.monotonic() < self._down_until:
            raise CountersDown
        try:
            return await call()
        except Exception as exc:
            now = time.monotonic()
            self._down_until = now + DOWN_SECONDS
            if now - self._logged_at >= LOG_EVERY_SECONDS:
                self._logged_at = now
                log.warning(
                    "Redis unreachable for rate limits (%s: %s): requests on this replica pass "
                    "without their limits until it answers",
                    type(exc).__name__,
                    exc,
                )
            raise CountersDown from exc

    async def acquire(self, window: Window, amount: int) -> tuple[bool, WindowState | None]:
        taken = await self._guarded(
            lambda: self._storage.acquire_sliding_window_entry(
                window.key, window.limit, window.seconds, amount
            )
        )
        return taken, None  # the state is read while the upstream answers

    async def add(self, window: Window, amount: int) -> None:
        await self._guarded(
            lambda: self._storage.acquire_sliding_window_entry(
                window.key, _UNBOUNDED, window.seconds, amount
            )
        )

    async def state(self, window: Window) -> WindowState:
        found = await self._guarded(
            lambda: self._storage.get_sliding_window(window.key, window.seconds)
        )
        return _state(window, found)

    async def lease(self, key: str, limit: int, member: str) -> bool:
        keys = [self._lease_prefix + key]
        held = await self._guarded(lambda: self._lease(keys, [limit, LEASE_SECONDS * 1000, member]))
        return bool(held)

    async def unlease(self, key: str, member: str) -> None:
        await self._guarded(lambda: self._redis.zrem(self._lease_prefix + key, member))

    async def close(self) -> None:
        await self._redis.aclose()
        # The library's own client (it has no close of its own).
        await self._storage.bridge.get_connection().aclose()  # type: ignore[attr-defined]


def create_counters(redis_url: str, prefix: str) -> MemoryCounters | RedisCounters:
    return RedisCounters(redis_url, prefix) if redis_url else MemoryCounters()
