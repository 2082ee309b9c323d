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
