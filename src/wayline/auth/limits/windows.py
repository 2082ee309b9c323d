"""The counters behind the limits: sliding windows and in-flight leases, in memory or in Redis.

Windows are the `limits` library's sliding-window counters (`limits.aio`): a window of `seconds`
keeps the count of the current period and of the previous one, weighted by how much of it still
overlaps the window, and admits while `floor(previous * previous_ttl / seconds) + current +
amount <= limit`. A request's counters are taken in one call (`take`), which also answers with
each window's state for the response's headers. Its async storages do the work:

- `RedisStorage`, shared by every replica. `take` sends the library's own scripts, for each
  window its acquire then its read, and the lease, in one pipeline: one round trip a request.
  Corrections (`add`, negative to give tokens back) are the library's acquire with no ceiling,
  queued and sent with the replica's next round trip (at the latest `FLUSH_SECONDS` later).
- In memory (no `REDIS_URL`), this process alone: the same sliding window in plain integers
  per window (`MemoryCounters`), since nothing else reads them. Nothing between the check and
  the count lets another request in (the event loop runs one task at a time).

Leases count requests in flight. In Redis, a sorted set of request ids scored by their lease's
end: a replica that dies holding leases frees them when the lease runs out (`LEASE_SECONDS`).

Redis unreachable: `RedisCounters` raises `CountersDown`, and keeps raising it without trying for
`DOWN_SECONDS`, so an outage costs requests one timeout per period, not one each. The caller lets
the request through (fail open); the outage is logged at most once a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from limits.aio.storage import RedisStorage
from limits.aio.storage.redis.bridge import RedisBridge

log = logging.getLogger("wayline.limits")

T = TypeVar("T")

# A correction (`add`) must land even in a full window: acquire against a ceiling never reached.
_UNBOUNDED = 10**15
LEASE_SECONDS = 600  # longer than any stream a replica could still be relaying
LEASE_MS = LEASE_SECONDS * 1000
DOWN_SECONDS = 5.0
LOG_EVERY_SECONDS = 60.0
FLUSH_SECONDS = 0.05  # a correction waits at most this long for a request to carry it
# Redis round trips wait this long at most before the request goes through without its limits.
REDIS_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Window:
    key: str
    limit: int
    seconds: int


@dataclass(slots=True)  # not frozen: built twice a request, and a frozen init costs twice as much
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


@dataclass(frozen=True, slots=True)
class Lease:
    """One of `limit` in-flight places under `key`, held by the request `member`."""

    key: str
    limit: int
    member: str


@dataclass(slots=True)
class Taken:
    """What `take` got: per window asked, whether it was counted and its state after; and the
    in-flight place (None when none was asked)."""

    windows: list[tuple[bool, WindowState]]
    leased: bool | None


class Counters(Protocol):
    @property
    def local(self) -> bool:
        """In this process: no call waits for I/O."""
        ...

    async def take(self, windows: list[tuple[Window, int]], lease: Lease | None) -> Taken:
        """Count each `(window, amount)` that fits (one that does not is left uncounted) and
        hold the in-flight place if one is free."""
        ...

    async def add(self, window: Window, amount: int) -> None:
        """Correct the count by `amount` (negative to give back), full window or not."""
        ...

    async def unlease(self, lease: Lease) -> None: ...

    async def close(self) -> None: ...


class _Periods:
    """One window's counts in memory: the current period's and the one before it."""

    __slots__ = ("current", "period", "previous", "seconds")

    def __init__(self, seconds: int, period: int) -> None:
        self.seconds = seconds
        self.period = period
        self.current = 0
        self.previous = 0

    def roll(self, period: int) -> None:
        if period != self.period:
            self.previous = self.current if period == self.period + 1 else 0
            self.current = 0
            self.period = period


class MemoryCounters:
    """This process's counters (no `REDIS_URL`): each replica counts alone. The same sliding
    window as `limits` (its arithmetic, `MemoryStorage._get_sliding_window_info`), kept in plain
    integers: the library's memory storage takes a lock and schedules expiry on every call,
    which cost a limited key a tenth of the gateway's throughput."""

    local = True
    MAX_WINDOWS = 100_000  # beyond this, windows idle for two periods are dropped

    def __init__(self) -> None:
        self._windows: dict[str, _Periods] = {}
        self._in_flight: dict[str, int] = {}

    def _periods(self, window: Window, now: float) -> _Periods:
        period = int(now // window.seconds)
        counts = self._windows.get(window.key)
        if counts is None:
            if len(self._windows) >= self.MAX_WINDOWS:
                self._sweep(now)
            counts = self._windows[window.key] = _Periods(window.seconds, period)
        else:
            counts.roll(period)
        return counts

    def _sweep(self, now: float) -> None:
        """Drop the windows whose counts no longer weigh (idle for two periods or more)."""
        for key, counts in list(self._windows.items()):
            if int(now // counts.seconds) > counts.period + 1:
                del self._windows[key]

    async def take(self, windows: list[tuple[Window, int]], lease: Lease | None) -> Taken:
        now = time.time()
        counted = [self._acquire(window, amount, now) for window, amount in windows]
        leased = None
        if lease is not None:
            held = self._in_flight.get(lease.key, 0)
            leased = held < lease.limit
            if leased:
                self._in_flight[lease.key] = held + 1
        return Taken(counted, leased)

    def _acquire(self, window: Window, amount: int, now: float) -> tuple[bool, WindowState]:
        seconds = window.seconds
        counts = self._periods(window, now)
        previous = counts.previous
        previous_ttl = (1 - (((now - seconds) / seconds) % 1)) * seconds if previous else 0.0
        current_ttl = (1 - ((now / seconds) % 1)) * seconds + seconds
        taken = (
            amount <= window.limit
            and math.floor(previous * previous_ttl / seconds) + counts.current + amount
            <= window.limit
        )
        if taken:
            counts.current += amount
        state = WindowState(
            window.limit, seconds, previous, previous_ttl, counts.current, current_ttl
        )
        return taken, state

    async def add(self, window: Window, amount: int) -> None:
        """A correction lands in the current period (never below zero), full window or not."""
        counts = self._periods(window, time.time())
        counts.current = max(0, counts.current + amount)

    async def unlease(self, lease: Lease) -> None:
        held = self._in_flight.get(lease.key, 0) - 1
        if held > 0:
            self._in_flight[lease.key] = held
        else:
            self._in_flight.pop(lease.key, None)

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
        from redis.exceptions import NoScriptError

        timeouts = {
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
        }
        self._prefix = f"{prefix}:limits"
        self._storage = RedisStorage(
            limits_storage_uri(redis_url),
            implementation="redispy",
            key_prefix=self._prefix,
            **timeouts,  # type: ignore[arg-type]
        )
        self._redis = redis.from_url(redis_url, **timeouts)
        self._no_script = NoScriptError  # redis is an optional dependency: imported here
        self._scripts: dict[str, bytes] = {  # the library's own two, and the leases'
            "acquire": RedisBridge.SCRIPT_ACQUIRE_SLIDING_WINDOW,
            "window": RedisBridge.SCRIPT_SLIDING_WINDOW,
            "lease": _LEASE.encode(),
        }
        self._sha = {name: _sha1(text) for name, text in self._scripts.items()}
        self._loaded = False
        self._pending: dict[str, tuple[Window, int]] = {}  # corrections not sent yet
        self._flushing: asyncio.Task[None] | None = None
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

    def _window_keys(self, window: Window) -> tuple[str, str]:
        """The previous and current period's keys, as `RedisStorage` names them (a hash tag
        around the key keeps both on one cluster node)."""
        current = f"{self._prefix}:{{{window.key}}}"
        return f"{current}/-1", current

    async def take(self, windows: list[tuple[Window, int]], lease: Lease | None) -> Taken:
        return await self._guarded(lambda: self._take(windows, lease))

    async def _take(self, windows: list[tuple[Window, int]], lease: Lease | None) -> Taken:
        # The corrections waiting to be sent go first, in the same round trip.
        pending, self._pending = self._pending, {}
        calls = [
            ("acquire", [*self._window_keys(window), _UNBOUNDED, window.seconds, amount])
            for window, amount in pending.values()
            if amount
        ]
        sent = len(calls)
        for window, amount in windows:
            keys = self._window_keys(window)
            calls.append(("acquire", [*keys, window.limit, window.seconds, amount]))
            calls.append(("window", [*keys, window.seconds]))
        if lease is not None:
            member = lease.member
            calls.append(("lease", [self._lease_key(lease), lease.limit, LEASE_MS, member]))
        try:
            replies = (await self._scripts_run(calls))[sent:]
        except BaseException:
            for window, amount in pending.values():  # kept for the next round trip
                self._queue(window, amount)
            raise
        counted = []
        for i, (window, _) in enumerate(windows):
            found = replies[2 * i + 1] or (0, 0, 0, 0)
            state = WindowState(
                window.limit,
                window.seconds,
                int(found[0] or 0),
                max(0.0, float(found[1] or 0)) / 1000,  # milliseconds in the script
                int(found[2] or 0),
                max(0.0, float(found[3] or 0)) / 1000,
            )
            counted.append((bool(replies[2 * i]), state))
        return Taken(counted, None if lease is None else bool(replies[-1]))

    async def _scripts_run(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Run the scripts in one pipeline (one round trip). A script Redis does not know yet
        (the first call, or after a flush or a restart) is loaded, and only the calls it failed
        are run again: the others have already counted."""
        if not self._loaded:
            await self._load_scripts()
        replies: list[Any] = await self._pipeline(calls)
        failed = [i for i, reply in enumerate(replies) if isinstance(reply, self._no_script)]
        if failed:
            await self._load_scripts()
            again = await self._pipeline([calls[i] for i in failed])
            for i, reply in zip(failed, again, strict=True):
                replies[i] = reply
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def _pipeline(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        pipe = self._redis.pipeline(transaction=False)
        for name, args in calls:
            keys = 1 if name == "lease" else 2
            pipe.evalsha(self._sha[name], keys, *args)
        return list(await pipe.execute(raise_on_error=False))

    async def _load_scripts(self) -> None:
        for script in self._scripts.values():
            await self._redis.script_load(script)
        self._loaded = True

    def _lease_key(self, lease: Lease) -> str:
        return f"{self._prefix}:in-flight:{lease.key}"

    async def add(self, window: Window, amount: int) -> None:
        """Queued: sent with this replica's next round trip, or on its own after
        `FLUSH_SECONDS` (a request then costs Redis one round trip, not two)."""
        self._queue(window, amount)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(FLUSH_SECONDS))

    def _queue(self, window: Window, amount: int) -> None:
        queued = self._pending.get(window.key)
        self._pending[window.key] = (window, amount + (queued[1] if queued else 0))

    async def _flush(self, after: float) -> None:
        await asyncio.sleep(after)
        if not self._pending:
            return
        with contextlib.suppress(CountersDown):  # logged; the corrections are kept for later
            await self.take([], None)

    async def unlease(self, lease: Lease) -> None:
        await self._guarded(lambda: self._redis.zrem(self._lease_key(lease), lease.member))

    async def close(self) -> None:
        if self._flushing is not None:
            self._flushing.cancel()
        await self._flush(0)
        await self._redis.aclose()
        # The library's own client (it has no close of its own).
        await self._storage.bridge.get_connection().aclose()  # type: ignore[attr-defined]


def _sha1(script: bytes) -> str:
    return hashlib.sha1(script).hexdigest()  # how Redis names a script


def create_counters(redis_url: str, prefix: str) -> MemoryCounters | RedisCounters:
    return RedisCounters(redis_url, prefix) if redis_url else MemoryCounters()
