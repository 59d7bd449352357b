"""A woken scheduler dispatches at once, not at its next interval, and the batch loop that woke
it does not wait for the round (speed to lead without holding the next batch)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.topics import REMINDERS
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.people import Nurture
from services.orchestrator.scheduler import Scheduler
from tests.probes import StoredRecord, read_topic
from trellis.kafka import ensure_topics, make_producer
from trellis.settings import TrellisSettings

WEDNESDAY_NOON = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
NURTURE = Nurture(default_nurture(), ("pool@x.example",), ("x.example",))
INTERVAL_S = 60.0  # far longer than the test waits: only a wake can dispatch in time


class Counting(Scheduler):
    rounds = 0
    ran: asyncio.Event | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits: list[int | None] = []
        self.starts: list[float] = []

    async def dispatch_due(self, limit: int | None = None) -> int:
        self.rounds += 1
        self.starts.append(time.monotonic())
        self.limits.append(limit)
        claimed = await super().dispatch_due(limit)
        if self.ran is not None:
            self.ran.set()
        return claimed


def _demo(tag: str) -> StoredRecord:
    value = orjson.dumps({
        "id": f"{tag}-1", "type": "demo_requested", "source": "test",
        "time": (WEDNESDAY_NOON - timedelta(minutes=1)).isoformat(),
        "contact": {"external_id": tag, "email": f"ana@{tag}.example"},
        "account": {"external_id": f"acc-{tag}", "domain": f"{tag}.example"},
    })  # fmt: skip
    return StoredRecord("trellis.engagement.v1", 0, 0, value)


async def _rounds_reach(scheduler: Counting, n: int, within_s: float) -> bool:
    scheduler.ran = scheduler.ran or asyncio.Event()
    deadline = time.monotonic() + within_s
    while scheduler.rounds < n and time.monotonic() < deadline:
        scheduler.ran.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(scheduler.ran.wait(), max(0.0, deadline - time.monotonic()))
    return scheduler.rounds >= n


async def test_a_wake_dispatches_the_new_reminder_long_before_the_interval(
    engine: AsyncEngine, settings: TrellisSettings
) -> None:
    await ensure_topics(settings)
    producer = make_producer(settings)
    await producer.start()
    stop, lock = asyncio.Event(), asyncio.Lock()
    scheduler = Counting(engine, producer, NURTURE, "test", lambda: WEDNESDAY_NOON)
    running = asyncio.create_task(scheduler.run(stop, INTERVAL_S, lock))
    try:
        assert await _rounds_reach(scheduler, 1, 10), "the first round never ran"
        await asyncio.sleep(0.3)
        assert scheduler.rounds == 1  # idle until the interval or a wake
        tag = uuid.uuid4().hex[:8]
        await apply_engagement(
            [_demo(tag)], engine, default_playbook(), lambda: WEDNESDAY_NOON, nurture=NURTURE
        )
        scheduler.wake()
        scheduler.wake()  # wakes before the round starts coalesce into it
        assert await _rounds_reach(scheduler, 2, 10), "a wake did not start a round"
        sent = await read_topic(
            settings.kafka_bootstrap, REMINDERS, lambda rs: any(tag in r.value.decode() for r in rs)
        )
        assert any(tag in r.value.decode() for r in sent)
        await asyncio.sleep(0.3)
        assert scheduler.rounds == 2, "two wakes before one round ran more than one round"
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
        await producer.stop()


class Failing(Counting):
    async def dispatch_due(self, limit: int | None = None) -> int:
        self.rounds += 1
        raise ConnectionError("database went away")


async def test_a_hand_raise_batch_dispatches_its_reminder_itself_and_a_failure_wakes_the_loop(
    engine: AsyncEngine, settings: TrellisSettings
) -> None:
    """``dispatch_now`` (the batch that applied a hand-raise, before its next batch): a round
    as small as the batch's hand-raises puts the reminder on the topic before it returns,
    without the scheduler's loop, and wakes the loop for the rest; a failed round is not the
    batch's failure."""
    await ensure_topics(settings)
    producer = make_producer(settings)
    await producer.start()
    lock = asyncio.Lock()
    try:
        tag = uuid.uuid4().hex[:8]
        await apply_engagement(
            [_demo(tag)], engine, default_playbook(), lambda: WEDNESDAY_NOON, nurture=NURTURE
        )
        scheduler = Counting(engine, producer, NURTURE, "test", lambda: WEDNESDAY_NOON)
        await scheduler.dispatch_now(lock, 1)  # no ``run``: only this call can have sent it
        assert (scheduler.rounds, scheduler.dispatched, scheduler.limits) == (1, 1, [1])
        assert scheduler._woken.is_set(), "the rest of what is due is the loop's: woken"
        sent = await read_topic(
            settings.kafka_bootstrap, REMINDERS, lambda rs: any(tag in r.value.decode() for r in rs)
        )
        assert sum(tag in r.value.decode() for r in sent) == 1
        broken = Failing(engine, producer, NURTURE, "test", lambda: WEDNESDAY_NOON)
        await broken.dispatch_now(lock, 1)  # does not raise
        assert broken.rounds == 1 and broken._woken.is_set()
        assert not lock.locked()
    finally:
        await producer.stop()


async def test_wakes_within_the_gap_coalesce_into_one_round_and_an_idle_wake_runs_at_once(
    engine: AsyncEngine, settings: TrellisSettings
) -> None:
    """``gap_s``: a busy consumer wakes the loop after every batch; rounds woken within the gap
    of the last one's start make one round when the gap is over, and a wake after a quiet
    spell longer than the gap runs at once."""
    await ensure_topics(settings)
    producer = make_producer(settings)
    await producer.start()
    stop, lock = asyncio.Event(), asyncio.Lock()
    gap = 2.0
    scheduler = Counting(engine, producer, NURTURE, "test", lambda: WEDNESDAY_NOON, gap_s=gap)
    running = asyncio.create_task(scheduler.run(stop, INTERVAL_S, lock))
    try:
        assert await _rounds_reach(scheduler, 1, 10), "the first round never ran"
        first = time.monotonic()
        for _ in range(5):  # five batches' wakes inside the gap
            scheduler.wake()
            await asyncio.sleep(0.05)
        assert scheduler.rounds == 1, "a wake inside the gap ran a round at once"
        assert await _rounds_reach(scheduler, 2, 10)
        # the gap runs from the first round's start, a moment before its dispatch part
        assert scheduler.starts[1] - scheduler.starts[0] >= gap - 0.5, "the gap was not kept"
        assert scheduler.starts[1] - first >= gap - 1.0
        await asyncio.sleep(gap + 0.3)
        assert scheduler.rounds == 2, "five wakes made more than one round"
        woken = time.monotonic()
        scheduler.wake()  # after a quiet spell longer than the gap
        assert await _rounds_reach(scheduler, 3, 10)
        assert time.monotonic() - woken < gap / 2, "an idle scheduler's wake waited for the gap"
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
        await producer.stop()
