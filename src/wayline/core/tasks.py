"""Background tasks: waiting on an event with a timeout, and stopping tasks at shutdown.

Two traps of Python 3.11's asyncio that hung shutdowns on PostgreSQL (a test's app waited
forever for its ingestion dispatcher):

- `asyncio.wait_for(event.wait(), t)` can lose a cancellation that arrives as the event is set
  (fixed in 3.12); `wait_event` uses `asyncio.timeout`, which cannot.
- A cancellation that lands inside a database call may come out as the driver's own error,
  which a loop's `except Exception` then catches and carries on. `stop_tasks` cancels again
  every second, and gives up after a grace period with a warning rather than hang.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable

log = logging.getLogger("wayline.tasks")


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set or `timeout` seconds pass; whether it is set."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        pass
    return event.is_set()


class Signals:
    """Events by key, for waiters that want to hear when something about a key may have moved:
    `wait(key, timeout)` returns on `set(key)` or after the timeout. A key nobody waits on keeps
    nothing, whether or not it was ever set (files finished by another process are never
    signalled here)."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._waiting: Counter[str] = Counter()

    async def wait(self, key: str, timeout: float) -> bool:
        """Whether `key` was set while waiting (False: the timeout passed)."""
        event = self._events.setdefault(key, asyncio.Event())
        self._waiting[key] += 1
        try:
            return await wait_event(event, timeout)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                self._events.pop(key, None)

    def set(self, key: str) -> None:
        """Wake every waiter on `key`; later waiters wait for the next `set`."""
        event = self._events.pop(key, None)
        if event is not None:
            event.set()

    def __len__(self) -> int:
        """Keys with a waiter (what the object holds)."""
        return len(self._events)


async def stop_tasks(tasks: Iterable[asyncio.Task[object]], grace: float = 10.0) -> None:
    """Cancel `tasks` and wait for them to end (whatever they end with), cancelling again each
    second, for at most `grace` seconds."""
    pending = {task for task in tasks if not task.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(1.0, grace))
        if pending and loop.time() >= deadline:
            log.warning(
                "%d task(s) did not stop within %g s: %s",
                len(pending),
                grace,
                ", ".join(sorted(task.get_name() for task in pending)),
            )
            return
