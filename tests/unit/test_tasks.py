"""Stopping background tasks at shutdown (`core/tasks.py`): a task that lost a cancellation is
cancelled again, a task that never ends is given up on after the grace period instead of
hanging the shutdown, and `wait_event` tells a set event from a timeout."""

from __future__ import annotations

import asyncio
import logging

import pytest

from wayline.core.tasks import stop_tasks, wait_event


def test_a_task_that_swallowed_a_cancellation_is_cancelled_again() -> None:
    """As a database driver can turn a cancellation into its own error, which a polling loop's
    `except Exception` then catches: the loop carries on, and only a second cancel ends it."""
    swallowed = []

    async def polling_loop() -> None:
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed.append(True)  # as if the driver had raised its own error

    async def main() -> bool:
        task = asyncio.create_task(polling_loop())
        await asyncio.sleep(0)
        await stop_tasks([task], grace=5)
        return task.cancelled()

    assert asyncio.run(main()) is True
    assert swallowed == [True]


def test_a_task_that_never_ends_is_given_up_after_the_grace(caplog) -> None:
    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue

    async def main() -> bool:
        task = asyncio.create_task(stubborn(), name="stubborn-loop")
        await asyncio.sleep(0)
        await stop_tasks([task], grace=0.3)
        running = not task.done()
        task.get_coro().close()  # (the test's own clean-up)
        return running

    with caplog.at_level(logging.WARNING, logger="wayline.tasks"):
        assert asyncio.run(main()) is True
    assert "did not stop within 0.3 s: stubborn-loop" in caplog.text


@pytest.mark.parametrize("set_it", [True, False])
def test_wait_event_says_whether_the_event_was_set(set_it: bool) -> None:
    async def main() -> bool:
        event = asyncio.Event()
        if set_it:
            asyncio.get_running_loop().call_later(0.01, event.set)
        return await wait_event(event, 0.2)

    assert asyncio.run(main()) is set_it
