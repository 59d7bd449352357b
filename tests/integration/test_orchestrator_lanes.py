"""The orchestrator's laned batch loop (``services.orchestrator.pipeline``) on the real broker and
database: a partition's batches apply in order, one at a time, lanes run side by side, and a
batch's offsets are committed only after its transaction: killed between the two, the batch is
redelivered and the inbox skips it."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from aiokafka import TopicPartition
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters import inbox
from services.orchestrator.adapters.tables import inbox as inbox_table
from services.orchestrator.application.unit_of_work import InboxEntry
from services.orchestrator.pipeline import BatchSizer, LanedConsumer
from tests.probes import produce
from trellis.broker import EmbeddedBroker
from trellis.consumer import BatchHandler, HandlerInterrupted, LoopPolicy, Record, Rejected
from trellis.kafka import ensure_topics, make_consumer, make_producer
from trellis.settings import TrellisSettings

ON_LOOP = pytest.mark.asyncio(loop_scope="session")
NOW = datetime(2026, 11, 2, tzinfo=UTC)


def test_batch_size_follows_lag_between_floor_and_ceiling() -> None:
    sizer = BatchSizer(floor=100, ceiling=2000)
    assert sizer.next() == 100  # caught up: small batches, applied at once
    sizer.lag = 750
    assert sizer.next() == 750
    sizer.lag = 90_000
    assert sizer.next() == 2000


def test_batch_size_settles_where_a_batch_takes_the_budget_fixed_costs_included() -> None:
    """A batch costs 50 ms plus 1 ms per record: with a 300 ms budget the size settles at 250
    (a hand-raise waits about the budget for the batch in flight), never above lag or ceiling,
    never below the floor."""
    sizer = BatchSizer(floor=10, ceiling=5000, budget_s=0.3)
    sizer.lag = 90_000
    assert sizer.next() == 5000  # no pace known yet: the lag decides
    for _ in range(40):
        size = sizer.next()
        sizer.took(size, 0.05 + 0.001 * size)
    assert 245 <= sizer.next() <= 255
    assert abs(0.05 + 0.001 * sizer.next() - 0.3) < 0.006
    sizer.lag = 40
    assert sizer.next() == 40  # caught up: the lag is smaller than the budget's size
    sizer.took(10, 30.0)  # a stall (3 s a record): the floor still moves the lane on
    assert sizer.next() == 10
    sizer.lag = 90_000
    assert sizer.next(budgeted=False) == 5000  # no hand-raise lately: a backlog drains in bulk
    unbounded = BatchSizer(floor=10, ceiling=5000, lag=90_000)
    unbounded.took(5000, 50.0)
    assert unbounded.next() == 5000  # no budget: the pace is not a limit


class _Watermarks:
    """The one part of a consumer ``BatchSizer.saw`` reads: high watermarks."""

    def __init__(self, **highwater: int) -> None:
        self.marks = {TopicPartition("t", int(p[1:])): h for p, h in highwater.items()}

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.marks.get(tp)


@dataclass(frozen=True)
class _At:
    """A record as ``saw`` reads it: its offset."""

    offset: int


def _records(first: int, n: int) -> list[Record]:
    return [_At(first + i) for i in range(n)]  # type: ignore[misc]


def test_lag_counts_every_partition_of_the_lane_not_only_the_batch_s() -> None:
    """A fetch that drains one partition's buffer must not read as "caught up" while the
    lane's other partitions hold thousands: the lag is counted over all of them, from where
    the lane read to (or where the group stands, for one not read yet)."""
    tps = [TopicPartition("t", p) for p in range(3)]
    sizer = BatchSizer(floor=100, ceiling=5000)
    marks = _Watermarks(p0=3000, p1=3000, p2=3000)
    sizer.read_to[tps[2]] = 1000  # the group's committed offset for a partition not read yet
    sizer.saw({tps[0]: _records(0, 3000)}, marks, tps)
    assert sizer.lag == 0 + 2000  # p0 drained; p1 neither read nor placed: none; p2 from 1000
    sizer.read_to[tps[1]] = 0
    sizer.saw({tps[2]: _records(1000, 500)}, marks, tps)
    assert sizer.lag == 3000 + 1500
    assert sizer.next() == 4500
    sizer.saw({tps[1]: _records(0, 10)}, marks, tps[1:])  # p0 went to another lane
    assert sizer.lag == 2990 + 1500
    assert tps[0] not in sizer.read_to
    sizer.saw({tps[1]: _records(10, 2990)}, marks)  # no lane given: the batch's alone
    assert sizer.lag == 0
    marks.marks[tps[1]] = 3100  # the watermark moved on: new records arrived
    sizer.saw({}, marks, tps[1:])
    assert sizer.lag == 100 + 1500


class _Assigned:
    """The one part of a consumer ``_mine`` reads: its assignment."""

    def __init__(self, *tps: TopicPartition) -> None:
        self.tps = set(tps)

    def assignment(self) -> set[TopicPartition]:
        return self.tps


def test_a_hand_raise_partition_is_held_while_another_member_owns_its_account_partition() -> None:
    """Round robin (a member of an older release in the group) can give this member hand-raise
    partition 1 while engagement partition 1 is another's: reading it would make two writers of
    one account, so it waits; partition 0 of both is this member's and is read."""
    ev, hr, out = "events", "raised", "outcomes"
    owned = _Assigned(TopicPartition(ev, 0), TopicPartition(hr, 0), TopicPartition(hr, 1),
                      TopicPartition(out, 1))  # fmt: skip
    loop = LanedConsumer("held", owned, None, None, LoopPolicy())  # type: ignore[arg-type]
    loop.lanes, loop.first, loop.apart = 1, frozenset({hr}), frozenset({out})
    loop._open, loop._parked = asyncio.Event(), [asyncio.Event()]
    assert loop._mine(0) == [TopicPartition(ev, 0), TopicPartition(hr, 0)]
    assert loop._mine(1) == [TopicPartition(out, 1)]  # outcomes' number is no account's
    owned.tps.add(TopicPartition(ev, 1))  # co-partitioned again after the next rebalance
    assert TopicPartition(hr, 1) in loop._mine(0)
    loop.first = frozenset()
    owned.tps.discard(TopicPartition(ev, 1))
    assert TopicPartition(hr, 1) in loop._mine(0)  # without ``first`` a topic is any other


def test_the_budget_holds_for_a_while_after_a_hand_raise_and_always_without_first_topics() -> None:
    loop = LanedConsumer("budget", _Assigned(), None, None, LoopPolicy())  # type: ignore[arg-type]
    loop.budget_s = 0.15
    assert loop._budgeted()  # no topic comes first: every batch is held to the budget
    loop.first = frozenset({"raised"})
    assert not loop._budgeted()  # none seen yet: big batches drain a backlog
    loop._raised_at = time.monotonic()
    assert loop._budgeted()
    loop._raised_at = time.monotonic() - loop.budget_for_s - 1
    assert not loop._budgeted()


async def _topic(settings: TrellisSettings, broker: EmbeddedBroker, n: int) -> str:
    topic = f"lanes-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, topics=[topic], partitions=6)
    await produce(broker.bootstrap, topic, [(f"k{i % 60}".encode(), b"%d" % i) for i in range(n)])
    return topic


async def _loop(
    settings: TrellisSettings,
    topic: str,
    group: str,
    handler: object,
    lanes: int = 2,
    on_backlog: bool = False,
) -> tuple[LanedConsumer, object, object]:
    consumer = make_consumer(settings, topic, group_id=group)
    producer = make_producer(settings)
    await consumer.start()
    await producer.start()
    loop = LanedConsumer("lanes-test", consumer, producer, handler, LoopPolicy(max_records=50))  # type: ignore[arg-type]
    loop.lanes, loop.floor, loop.on_backlog = lanes, 10, on_backlog
    return loop, consumer, producer


@ON_LOOP
@pytest.mark.parametrize("on_backlog", [False, True], ids=["always", "on-backlog"])
async def test_lanes_apply_each_partition_in_order_side_by_side_committing_after(
    broker: EmbeddedBroker, settings: TrellisSettings, on_backlog: bool
) -> None:
    topic = await _topic(settings, broker, 600)
    seen: dict[int, list[int]] = {}
    running = most = total = 0
    ahead: list[str] = []
    consumer_ref: list[object] = []

    async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
        nonlocal running, most, total
        running += 1
        most = max(most, running)
        for tp in {TopicPartition(r.topic, r.partition) for r in records}:
            done = await consumer_ref[0].committed(tp)  # type: ignore[attr-defined]
            first = min(r.offset for r in records if r.partition == tp.partition)
            if done is not None and done > first:
                ahead.append(f"{tp.partition}: committed {done} before {first} applied")
        await asyncio.sleep(0.02)  # the database's share of a batch
        for r in records:
            seen.setdefault(r.partition, []).append(r.offset)
        running -= 1
        total += len(records)
        if total >= 600:
            loop.stop()
        return []

    loop, consumer, producer = await _loop(
        settings, topic, uuid.uuid4().hex, handler, on_backlog=on_backlog
    )  # 600 records, batches of at most 50: a backlog, so lanes open on it too
    consumer_ref.append(consumer)
    try:
        await asyncio.wait_for(loop.run(), 60)
    finally:
        await consumer.stop()  # type: ignore[attr-defined]
        await producer.stop()  # type: ignore[attr-defined]
    assert not ahead
    assert most == 2, "the two lanes never ran a batch at the same time"
    assert sum(len(v) for v in seen.values()) == 600
    for offsets in seen.values():  # each partition once, in order
        assert offsets == list(range(len(offsets)))


@ON_LOOP
async def test_killed_between_db_commit_and_offset_commit_redelivers_and_the_inbox_skips(
    broker: EmbeddedBroker, settings: TrellisSettings, engine: AsyncEngine
) -> None:
    topic = await _topic(settings, broker, 300)
    group = uuid.uuid4().hex
    fresh_counts: list[int] = []
    killed: dict[int, int] = {}  # the killed batch: partition -> its first offset

    async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
        entries = [InboxEntry(f"{topic}-{r.offset}-{r.partition}", r.topic, r.partition,
                              r.offset) for r in records]  # fmt: skip
        async with engine.begin() as conn:
            fresh_counts.append(len(await inbox.claim(conn, entries, NOW)))
        if not killed and sum(fresh_counts) > 100:  # the transaction committed; die now
            for r in records:
                killed[r.partition] = min(killed.get(r.partition, r.offset), r.offset)
            raise HandlerInterrupted("killed after the database commit")
        return []

    loop, consumer, producer = await _loop(settings, topic, group, handler)
    try:
        with pytest.raises(Exception, match="killed"):
            await asyncio.wait_for(loop.run(), 60)
        committed = {p: await consumer.committed(TopicPartition(topic, p)) for p in killed}  # type: ignore[attr-defined]
    finally:
        await consumer.stop()  # type: ignore[attr-defined]
        await producer.stop()  # type: ignore[attr-defined]
    assert killed
    for partition, first in killed.items():  # the killed batch's offsets were not committed
        assert (committed[partition] or 0) <= first

    async def rest(records: Sequence[Record]) -> Sequence[Rejected]:
        await handler(records)
        if await _claimed(engine, topic) >= 300 and sum(fresh_counts) >= 300:
            loop.stop()
        return []

    loop, consumer, producer = await _loop(settings, topic, group, rest)
    try:
        await asyncio.wait_for(loop.run(), 60)
    finally:
        await consumer.stop()  # type: ignore[attr-defined]
        await producer.stop()  # type: ignore[attr-defined]
    assert await _claimed(engine, topic) == 300  # nothing lost
    assert sum(fresh_counts) == 300  # the redelivered batch claimed nothing: applied once


async def _claimed(engine: AsyncEngine, topic: str) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(inbox_table).where(inbox_table.c.topic == topic)
        return int(await conn.scalar(query) or 0)


@contextlib.asynccontextmanager
async def _apart_loop(
    settings: TrellisSettings, topics: tuple[str, str], handler: BatchHandler, max_records: int
) -> AsyncIterator[LanedConsumer]:
    """One lane over ``topics[0]`` and the lane apart over ``topics[1]``, floor 10."""
    consumer = make_consumer(settings, *topics, group_id=uuid.uuid4().hex)
    producer = make_producer(settings)
    await consumer.start()
    await producer.start()
    loop = LanedConsumer("apart-test", consumer, producer, handler, LoopPolicy(max_records))
    loop.lanes, loop.floor, loop.apart = 1, 10, frozenset({topics[1]})
    try:
        yield loop
    finally:
        await consumer.stop()
        await producer.stop()


@ON_LOOP
async def test_a_topic_apart_has_its_own_lane_so_its_batches_never_wait_behind_the_others(
    broker: EmbeddedBroker, settings: TrellisSettings
) -> None:
    events, outcomes = await _topic(settings, broker, 60), await _topic(settings, broker, 0)
    events_blocked, outcome_applied = asyncio.Event(), asyncio.Event()
    seen: dict[str, int] = {events: 0, outcomes: 0}
    mixed: list[set[str]] = []

    async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
        topics = {r.topic for r in records}
        if len(topics) > 1:
            mixed.append(topics)
        if outcomes in topics:
            outcome_applied.set()
        else:  # an events batch holds its lane until outcomes, produced now, were applied
            events_blocked.set()
            await asyncio.wait_for(outcome_applied.wait(), 20)
        for r in records:
            seen[r.topic] += 1
        if seen[events] >= 60 and seen[outcomes] >= 60:
            loop.stop()
        return []

    async def outcomes_once_events_are_held() -> None:
        await events_blocked.wait()
        await produce(broker.bootstrap, outcomes, [(b"k%d" % i, b"%d" % i) for i in range(60)])

    async with _apart_loop(settings, (events, outcomes), handler, 50) as loop:
        await asyncio.wait_for(asyncio.gather(loop.run(), outcomes_once_events_are_held()), 60)
    assert seen == {events: 60, outcomes: 60}
    assert not mixed, "a batch mixed the topic apart with the others"


@ON_LOOP
async def test_the_lane_apart_takes_batches_no_larger_than_its_own_ceiling(
    broker: EmbeddedBroker, settings: TrellisSettings
) -> None:
    events, outcomes = await _topic(settings, broker, 120), await _topic(settings, broker, 0)
    await produce(broker.bootstrap, outcomes, [(b"k%d" % i, b"%d" % i) for i in range(120)])
    sizes: dict[str, list[int]] = {events: [], outcomes: []}

    async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
        sizes[records[0].topic].append(len(records))
        if sum(sizes[events]) >= 120 and sum(sizes[outcomes]) >= 120:
            loop.stop()
        return []

    async with _apart_loop(settings, (events, outcomes), handler, 100) as loop:
        loop.apart_ceiling = 7
        await asyncio.wait_for(loop.run(), 60)
    assert sum(sizes[outcomes]) == 120 and max(sizes[outcomes]) <= 7
    assert max(sizes[events]) > 7  # the ceiling is the lane apart's only: events lag, grow


@ON_LOOP
async def test_lanes_on_backlog_stay_one_lane_for_a_trickle_and_close_once_caught_up(
    broker: EmbeddedBroker, settings: TrellisSettings
) -> None:
    topic = await _topic(settings, broker, 600)
    seen: dict[int, list[int]] = {}
    running = total = 0
    most: dict[str, int] = {"backlog": 0, "trickle": 0}
    phase = "backlog"
    drained = asyncio.Event()

    async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
        nonlocal running, total
        running += 1
        most[phase] = max(most[phase], running)
        await asyncio.sleep(0.02)
        for r in records:
            seen.setdefault(r.partition, []).append(r.offset)
        running -= 1
        total += len(records)
        if total == 600:
            drained.set()
        if total >= 630:
            loop.stop()
        return []

    async def trickle() -> None:
        nonlocal phase
        await asyncio.wait_for(drained.wait(), 30)
        for _ in range(400):  # every lane caught up: they close, the second one parks
            if not loop._open.is_set() and loop._parked[1].is_set():
                break
            await asyncio.sleep(0.05)
        phase = "trickle"
        for i in range(30):  # every partition, a few records at a time: never a batch behind
            await produce(broker.bootstrap, topic, [(f"k{i}".encode(), b"t%d" % i)])
            await asyncio.sleep(0.02)

    loop, consumer, producer = await _loop(
        settings, topic, uuid.uuid4().hex, handler, on_backlog=True
    )
    try:
        await asyncio.wait_for(asyncio.gather(loop.run(), trickle()), 60)
    finally:
        await consumer.stop()  # type: ignore[attr-defined]
        await producer.stop()  # type: ignore[attr-defined]
    assert most == {"backlog": 2, "trickle": 1}
    assert len(seen) == 6 and sum(len(v) for v in seen.values()) == 630
    for offsets in seen.values():  # each partition once, in order, whichever lane read it
        assert offsets == list(range(len(offsets)))


@ON_LOOP
async def test_a_backlog_over_many_partitions_is_read_in_full_batches_not_at_the_floor(
    broker: EmbeddedBroker, settings: TrellisSettings
) -> None:
    """600 records over 6 partitions, ceiling 50, floor 10: once the lane knows the backlog,
    every batch is a full one until the backlog is smaller than a batch. Counting only the
    partitions of the batch just read, each batch that drained a partition looked caught up
    and the next one shrank to the floor."""
    topic = await _topic(settings, broker, 600)
    sizes: list[int] = []

    async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
        sizes.append(len(records))
        if sum(sizes) >= 600:
            loop.stop()
        return []

    loop, consumer, producer = await _loop(settings, topic, uuid.uuid4().hex, handler, lanes=1)
    try:
        await asyncio.wait_for(loop.run(), 60)
    finally:
        await consumer.stop()  # type: ignore[attr-defined]
        await producer.stop()  # type: ignore[attr-defined]
    assert sum(sizes) == 600
    middle = [n for i, n in enumerate(sizes[1:], 1) if 600 - sum(sizes[:i]) > 50]
    assert middle and all(n > 10 for n in middle), sizes
    assert len(sizes) <= 600 // 50 + 3, sizes
