"""The orchestrator's consumer loop on PostgreSQL: lanes of partitions, each its own batch loop,
and batches sized by lag.

One batch loop waits on the database for a third of its time (the statements of a batch are big
upserts the server works on) with the process idle. Lanes fill that wait: the partitions this
process owns are split by number (``partition % lanes``), and each lane runs the usual loop
(``BatchConsumer``: fetch, apply in one transaction, then commit the offsets) over its own, so
one lane decodes, resolves and decides its batch while the other's statements run. A partition
belongs to one lane, so its batches are applied one after another and its offsets committed in
order, each only after its batch's transaction committed; at most one batch per lane is in
flight. Two lanes are two orchestrator processes in one (the scale-out guarantee: two processes
== one), sharing the state cache (it checks every entry against the stored text).
With ``on_backlog`` the lanes after the first open only while the first is a full batch
behind: caught up, one lane reads every partition (fewer, bigger batches; less CPU per event).

Delivery outcomes are read by a lane of their own (``apart``): a marketing drain sends the
orchestrator an outcome per email, and a demo request must not wait behind their transactions.
That lane's batches have a ceiling of their own (``apart_ceiling``): on SQLite its transaction
holds the one writer's lock, so its size is the longest a demo request's batch waits for it.

Batch size follows the lag a lane saw after its last batch, over every partition it reads: a
lane caught up takes small batches (an event that arrives alone is applied alone, at once:
speed to lead), one behind takes batches up to the ceiling (fewer commits and statements per
event), and, while hand-raises flow, no bigger than what it applies in ``budget_s`` at the pace
of its last batches. (A fetch often returns one partition's buffered records: counting those
alone, each batch that drained a partition looked caught up and the next shrank to the floor.)

Hand-raises come first (``first``: ``trellis.handraises.v1``, partitioned as the engagement
topic, so partition p of both is in the lane of p). Each batch of a lane takes, beside its share
of the rest, every hand-raise the client already holds for its partitions: a demo request waits
for the batch in flight and its own (the budget bounds both), never for the backlog behind them.
Short batches cost a backlog throughput (a batch's account work is paid per batch), so the budget
holds only for ``budget_for_s`` after a lane last saw a hand-raise: the first of a quiet spell
waits for one full batch, the ones after it for short ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from trellis.consumer import BatchConsumer, Record
from trellis.membership import describe

log = logging.getLogger(__name__)
POSITION_WAIT_S = 0.01


@dataclass
class BatchSizer:
    """``max_records`` for a lane's next fetch: the lag it saw, between ``floor`` and
    ``ceiling``."""

    floor: int = 100
    ceiling: int = 2000
    lag: int = 0
    budget_s: float | None = None
    """The longest a batch should take (what a hand-raise may wait for the one in flight)."""
    per_record_s: float = 0.0
    """Wall time per record of the last batches (a moving average, fixed costs included)."""
    read_to: dict[TopicPartition, int] = field(default_factory=dict)
    """The next offset of each partition this lane has read (what its lag is counted from)."""

    def next(self, budgeted: bool = True) -> int:
        """``budgeted``: the budget holds now (else lag and ceiling alone decide)."""
        size = max(self.floor, min(self.ceiling, self.lag))
        if budgeted and self.budget_s and self.per_record_s > 0:
            size = min(size, max(self.floor, int(self.budget_s / self.per_record_s)))
        return size

    def took(self, records: int, seconds: float) -> None:
        """A batch of ``records`` took ``seconds``: batches whose wall time is the budget are
        the fixed point (fixed costs make small batches look dear per record, so they grow)."""
        if records > 0:
            pace = seconds / records
            self.per_record_s = pace if not self.per_record_s else 0.5 * (self.per_record_s + pace)

    def saw(
        self,
        batches: dict[TopicPartition, list[Record]],
        consumer: Any,
        mine: Sequence[TopicPartition] | None = None,
    ) -> None:
        """The lag behind the high watermarks of every partition of ``mine`` this lane has read
        (default: those just read; a partition not read yet, or whose high watermark is not
        known yet, counts none). Not only the batch's: a fetch often returns one partition's
        buffered records, so the batch's partitions alone would say "caught up" after every
        batch that drained them, and the next batch would shrink to the floor with thousands of
        records waiting in the others."""
        for tp, part in batches.items():
            if part:
                self.read_to[tp] = part[-1].offset + 1
        lag = 0
        for tp in batches if mine is None else mine:
            at = self.read_to.get(tp)
            highwater = consumer.highwater(tp) if at is not None else None
            if highwater is not None and at is not None:
                lag += max(0, highwater - at)
        if mine is not None:  # partitions gone to another lane or member are forgotten
            kept = set(mine)
            self.read_to = {tp: at for tp, at in self.read_to.items() if tp in kept}
        self.lag = lag


class LanedConsumer(BatchConsumer):
    """``BatchConsumer`` with ``lanes`` batch loops over disjoint partition sets (one lane:
    the plain loop with adaptive batch size), and one lane more for the topics in ``apart``.
    Set ``lanes``, ``floor`` and ``apart`` after construction (``run_consumer`` builds it with
    ``BatchConsumer``'s arguments)."""

    lanes: int = 2
    floor: int = 100
    apart: frozenset[str] = frozenset()
    """Topics read by a lane of their own (the orchestrator's delivery outcomes: a marketing
    drain's thousands of outcomes a second then never sit in front of a demo request)."""
    apart_ceiling: int | None = None
    """The largest batch of that lane (unset: the policy's ``max_records``)."""
    first: frozenset[str] = frozenset()
    """Topics whose records a lane applies ahead of the rest of its partitions (hand-raises)."""
    budget_s: float | None = None
    """The longest a lane's batch should take, from the pace of its last batches (unset: the
    lag and the ceiling alone size it); with ``first`` topics, only while hand-raises flow."""
    budget_for_s: float = 60.0
    """How long after a hand-raise the budget holds."""
    _raised_at: float | None = None
    _held: frozenset[TopicPartition] = frozenset()
    on_backlog: bool = False
    """Lanes after the first open only for a backlog: while closed, the first lane reads every
    partition of the others (each closed lane parked between its batches, never during one);
    they open when the first lane is a full batch (the ceiling) behind and close when every
    lane is caught up (below the floor). A second lane overlaps one batch's statements with the
    other's CPU: worth it on a backlog of big batches, a cost when batches are small and the
    process is short of CPU (at 1,000 ev/s on 2 cores, a rep's p99 with two lanes was 6.4 s
    against 3.5 s with one)."""

    async def run(self) -> None:
        count = max(1, self.lanes) + (1 if self.apart else 0)
        self._open = asyncio.Event()
        if not self.on_backlog:
            self._open.set()
        self._parked = [asyncio.Event() for _ in range(max(1, self.lanes))]
        self._lags = [0] * max(1, self.lanes)
        lanes = [
            asyncio.create_task(self._lane(i), name=f"{self.name}-lane-{i}") for i in range(count)
        ]
        try:
            await asyncio.gather(*lanes)
        finally:  # one lane failing (or stop): the other ends with its batch in hand
            self.stop()
            for task in lanes:
                if not task.done():
                    await asyncio.wait({task})
            for task in lanes:  # re-raise the first failure (ConsumerStopped included)
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]

    def _mine(self, index: int) -> list[TopicPartition]:
        lanes = max(1, self.lanes)
        assigned = self._owned()
        if index == lanes:  # the lane of the topics apart
            mine = [tp for tp in assigned if tp.topic in self.apart]
        else:
            read = {index}
            if index == 0 and not self._open.is_set():  # closed lanes' partitions, once parked
                read |= {i for i in range(1, lanes) if self._parked[i].is_set()}
            mine = [
                tp for tp in assigned if tp.topic not in self.apart and tp.partition % lanes in read
            ]
        return sorted(mine, key=lambda tp: (tp.topic, tp.partition))

    def _budgeted(self) -> bool:
        """Whether the budget holds now: always without ``first`` topics, else for
        ``budget_for_s`` after a hand-raise (any lane's: they share the process's CPU)."""
        if not self.first:
            return True
        return (
            self._raised_at is not None and time.monotonic() - self._raised_at < self.budget_for_s
        )

    def _owned(self) -> set[TopicPartition]:
        """The assignment, less any partition of a ``first`` topic whose number this member does
        not own of the others: applied here, its account would have two writers. That happens
        only while the group assigns round robin (a member of an older release in it); the
        partition waits, uncommitted, for a co-partitioned assignment."""
        assigned = set(self._consumer.assignment())
        if not self.first:
            return assigned
        rest = {tp.partition for tp in assigned if tp.topic not in self.first | self.apart}
        held = {tp for tp in assigned if tp.topic in self.first and tp.partition not in rest}
        if held and held != self._held:
            log.warning("%s: %s held until the group is co-partitioned (a member of an older "
                        "release?)", self.name, describe(held))  # fmt: skip
        self._held = frozenset(held)
        return assigned - held

    async def _park(self, index: int) -> None:
        """A lane after the first, between batches: parked until the lanes open."""
        if 0 < index < max(1, self.lanes) and not self._open.is_set():
            self._parked[index].set()
            opened = asyncio.create_task(self._open.wait())
            stopping = asyncio.create_task(self._stopping.wait())
            await asyncio.wait({opened, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (opened, stopping):
                task.cancel()
            self._parked[index].clear()

    def _steer(self, index: int, lag: int, ceiling: int) -> None:
        """After a batch of a lane (none in flight): the first lane opens the others when it is
        a full batch behind; they close when every lane is below the floor."""
        if not self.on_backlog or index >= max(1, self.lanes):
            return
        self._lags[index] = lag
        if index == 0 and not self._open.is_set() and lag >= ceiling:
            log.info("%s: %d records behind, lanes open", self.name, lag)
            self._open.set()
        elif self._open.is_set() and all(x < self.floor for x in self._lags):
            log.info("%s: caught up, one lane", self.name)
            self._open.clear()

    async def _fetch(
        self, mine: list[TopicPartition], timeout_ms: int, size: int, ceiling: int
    ) -> dict[TopicPartition, list[Record]]:
        """The lane's next batch: every hand-raise the client holds for its partitions, with
        what it holds of the rest (no wait then), else the usual wait for the rest. A batch of
        hand-raises alone would pay a batch's fixed cost per demo request and starve the rest;
        riding on the next batch, one waits at most for that batch and the one in flight."""
        urgent = [tp for tp in mine if tp.topic in self.first]
        ahead: dict[TopicPartition, list[Record]] = {}
        if urgent:  # what the client's fetcher already holds: no wait
            ahead = await self._consumer.getmany(*urgent, timeout_ms=0, max_records=ceiling)
        rest = [tp for tp in mine if tp.topic not in self.first] if ahead else mine
        batches: dict[TopicPartition, list[Record]] = await self._consumer.getmany(
            *rest, timeout_ms=0 if ahead else timeout_ms, max_records=size
        )
        return ahead | batches

    async def _position(self, tp: TopicPartition) -> int | None:
        """The consumer's next offset of ``tp`` if it knows it now (else None: never waits for
        the group's committed offset to be looked up). Only once the partition was fetched:
        before, its lag is unknown anyway (no high watermark) and its position may be too."""
        try:
            if self._consumer.highwater(tp) is None:
                return None
            return int(await asyncio.wait_for(self._consumer.position(tp), POSITION_WAIT_S))
        except (TimeoutError, KafkaError, AssertionError):
            return None

    async def _lane(self, index: int) -> None:
        ceiling = self._policy.max_records
        if index == max(1, self.lanes) and self.apart_ceiling is not None:  # the lane apart
            ceiling = self.apart_ceiling
        sizer = BatchSizer(floor=min(self.floor, ceiling), ceiling=ceiling, budget_s=self.budget_s)
        timeout = self._policy.poll_timeout_ms
        while not self._stopping.is_set():
            await self._park(index)
            mine = self._mine(index)
            if not mine:  # nothing assigned to this lane (yet): wait, then look again
                self._steer(index, 0, ceiling)
                await asyncio.sleep(timeout / 1000)
                continue
            batches = await self._fetch(mine, timeout, sizer.next(self._budgeted()), ceiling)
            if not batches:
                sizer.lag = 0
                self._steer(index, 0, ceiling)
                continue
            records = [r for part in batches.values() for r in part]
            if self.first and any(tp.topic in self.first for tp in batches):
                self._raised_at = time.monotonic()
            started = time.perf_counter()
            await self.process(records)
            await self._commit(batches)  # after the transaction; this lane's partitions only
            sizer.took(len(records), time.perf_counter() - started)
            mine = self._mine(index)
            for tp in mine:  # a partition this lane has not read yet: where the group is
                if tp not in sizer.read_to and tp not in batches:
                    at = await self._position(tp)
                    if at is not None:
                        sizer.read_to[tp] = at
            sizer.saw(batches, self._consumer, mine)
            self._steer(index, sizer.lag, ceiling)
            if self.metrics is not None:
                self.metrics.batch_applied(records, time.perf_counter() - started)
                self.metrics.lag_after(batches, self._consumer)
