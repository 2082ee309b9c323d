"""Writing the usage records off the request path: a bounded in-process queue, flushed every
second or as soon as it holds a batch (500 records), one transaction per batch.

`observe` (the hub calls it on the request path) is an append to a deque: no I/O, no await.
When the queue is full the record is dropped and counted, never waited for, and the drops are
logged at most once a minute. A batch that fails to write (the database away) goes back to the
front of the queue for the next flush, as far as the queue has room. `close` (the lifespan's
end: after uvicorn's graceful shutdown has let the requests in flight finish) writes whatever
is left, so a SIGTERM loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from wayline.core.db import Database
from wayline.core.tasks import wait_event
from wayline.core.usage import CallUsage
from wayline.usage.repository import UsageRepository

log = logging.getLogger("wayline.usage")

BATCH = 500
INTERVAL = 1.0  # USAGE_FLUSH_INTERVAL
CAPACITY = 50_000  # USAGE_QUEUE_SIZE: ~10 MB, a database away for ~30 s at 1,500 calls/s
DROP_LOG_INTERVAL = 60.0


class Ledger:
    def __init__(
        self,
        db: Database,
        *,
        capacity: int = CAPACITY,
        batch: int = BATCH,
        interval: float = INTERVAL,
    ) -> None:
        self._db = db
        self._queue: deque[CallUsage] = deque()
        self._capacity = capacity
        self._batch = batch
        self._interval = interval
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self._unlogged_drops = 0
        self._drops_logged_at = -DROP_LOG_INTERVAL

    @property
    def pending(self) -> int:
        return len(self._queue)

    # --- the request path ------------------------------------------------------------------
    def observe(self, usage: CallUsage) -> None:
        if len(self._queue) >= self._capacity:
            self._drop(1)
            return
        self._queue.append(usage)
        if len(self._queue) >= self._batch:
            self._wake.set()

    def _drop(self, count: int) -> None:
        self.dropped += count
        self._unlogged_drops += count
        now = time.monotonic()
        if now - self._drops_logged_at >= DROP_LOG_INTERVAL:
            log.warning(
                "usage ledger queue full (%d records): dropped %d records since the last notice",
                self._capacity,
                self._unlogged_drops,
            )
            self._drops_logged_at = now
            self._unlogged_drops = 0

    # --- the writer ----------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-ledger")

    async def _run(self) -> None:
        while not self._closing:
            await wait_event(self._wake, self._interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> int:
        """Write every queued record, a batch per transaction; the number written."""
        written = 0
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
            try:
                async with self._db.write() as session:
                    await UsageRepository(session).add_all(batch)
            except Exception:
                log.exception("%d usage records not written: kept for the next flush", len(batch))
                self._requeue(batch)
                break
            written += len(batch)
        return written

    def _requeue(self, batch: list[CallUsage]) -> None:
        room = max(0, self._capacity - len(self._queue))
        if room < len(batch):
            self._drop(len(batch) - room)
            batch = batch[:room]
        self._queue.extendleft(reversed(batch))

    async def close(self) -> None:
        """Stop the writer after a last flush of everything queued."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self.flush()
        if self._queue:
            log.error("usage ledger: %d records could not be written at shutdown", self.pending)
