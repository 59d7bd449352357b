"""``stop_consumer``: aiokafka's fetcher can raise CancelledError out of ``stop()`` (a failed
fetch's retry back-off is cancelled and awaited by ``close``); that stray one is absorbed, a
cancellation of the stopping task itself is not."""

from __future__ import annotations

import asyncio

import pytest

from trellis.runtime import stop_consumer


class StrayCancel:
    """A consumer whose ``stop`` ends as aiokafka's does after a broker cut."""

    def __init__(self) -> None:
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True
        raise asyncio.CancelledError


class SlowStop:
    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def stop(self) -> None:
        self.entered.set()
        await asyncio.sleep(10)


async def test_a_stray_cancellation_from_stop_is_absorbed() -> None:
    consumer = StrayCancel()
    await stop_consumer(consumer)  # returns: nothing cancelled this task
    assert consumer.stopped


async def test_cancelling_the_stopping_task_still_cancels_it() -> None:
    consumer = SlowStop()
    task = asyncio.create_task(stop_consumer(consumer))
    await consumer.entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
