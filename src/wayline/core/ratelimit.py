"""Fixed-window rate limits, shared through Redis when there is one.

Used for sign-in attempts (Open WebUI: 15 per email per 3 minutes → 429). With
`REDIS_URL`, counters live in Redis so every replica sees the same count; without
it they live in the process.
"""

from __future__ import annotations

import time
from typing import Protocol


class RateLimiter(Protocol):
    async def hit(self, key: str) -> bool:
        """Count one attempt; False when the limit for this window is exceeded."""
        ...

    async def reset(self, key: str) -> None: ...


class LocalRateLimiter:
    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._counts: dict[str, tuple[int, float]] = {}

    async def hit(self, key: str) -> bool:
        now = time.monotonic()
        count, start = self._counts.get(key, (0, now))
        if now - start >= self.window:
            count, start = 0, now
        self._counts[key] = (count + 1, start)
        if len(self._counts) > 100_000:  # bound memory under a spray of distinct keys
            self._counts = {k: v for k, v in self._counts.items() if now - v[1] < self.window}
        return count + 1 <= self.limit

    async def reset(self, key: str) -> None:
        self._counts.pop(key, None)


class RedisRateLimiter:
    def __init__(self, url: str, prefix: str, limit: int, window: float) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._prefix, self.limit, self.window = prefix, limit, int(window)

    async def hit(self, key: str) -> bool:
        name = f"{self._prefix}:ratelimit:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            # Queued, not sent: a pipeline's commands return the pipeline (redis-py types them as
            # awaitables, which chaining cannot follow), and `execute` runs them in one MULTI.
            pipe.incr(name)
            pipe.expire(name, self.window, nx=True)
            count, _ = await pipe.execute()
        return int(count) <= self.limit

    async def reset(self, key: str) -> None:
        await self._redis.delete(f"{self._prefix}:ratelimit:{key}")

    async def close(self) -> None:
        await self._redis.aclose()


def create_rate_limiter(
    redis_url: str, prefix: str, limit: int, window: float
) -> LocalRateLimiter | RedisRateLimiter:
    return (
        RedisRateLimiter(redis_url, prefix, limit, window)
        if redis_url
        else LocalRateLimiter(limit, window)
    )
