"""Background tasks (`core/tasks.py`): a task that lost a cancellation is cancelled again, a task
that never ends is given up on after the grace period instead of hanging the shutdown,
`wait_event` tells a set event from a timeout, and `Signals` wakes every waiter on a key and
keeps nothing for keys nobody waits on."""

from __future__ import annotations

import asyncio
import logging

import pytest

from wayline.core.tasks import Signals, stop_tasks, wait_event


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


def test_signals_wake_every_waiter_on_the_key_and_only_on_it() -> None:
    async def main() -> tuple[list[bool], bool, int]:
        signals = Signals()
        waiters = [asyncio.create_task(signals.wait("a", 5)) for _ in range(3)]
        other = asyncio.create_task(signals.wait("b", 0.2))
        await asyncio.sleep(0.01)
        signals.set("a")
        woken = await asyncio.gather(*waiters)
        return woken, await other, len(signals)

    woken, other_woken, held = asyncio.run(main())
    assert woken == [True, True, True]
    assert other_woken is False
    assert held == 0


def test_signals_keep_nothing_for_keys_never_set() -> None:
    """A progress stream on a file finished by another process without a bus is never
    signalled here: its wait times out, and the key must not stay behind."""

    async def main() -> tuple[int, int]:
        signals = Signals()
        await asyncio.gather(*(signals.wait(f"file-{i}", 0.01) for i in range(100)))
        first = asyncio.create_task(signals.wait("x", 0.05))
        await asyncio.sleep(0.01)
        second = asyncio.create_task(signals.wait("x", 5))
        await asyncio.sleep(0.01)
        await first  # times out while `second` still waits: the key stays for it
        during = len(signals)
        signals.set("x")
        await second
        return during, len(signals)

    assert asyncio.run(main()) == (1, 0)
