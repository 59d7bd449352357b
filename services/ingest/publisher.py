"""Publishes accepted events and waits for the broker's acknowledgement (acks=all).

Records from concurrent requests are coalesced: each request queues its records and waits on
their futures; one flusher task takes everything queued, groups it by partition and submits one
closed batch per partition (``send_batch``); while it waits for the sender to take a batch, the
next requests' records queue up behind it. Measured: aiokafka's per-message ``send()``
(partitioner, accumulator, a future and a timer per record) cost more CPU than everything else
a single-event request does. A request is still answered only after the broker acknowledged
every one of its records; records not acknowledged within the publish timeout fail (503, the
sender retries).
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.partitioner import murmur2

from schemas.events import EngagementEvent
from schemas.outcomes import TouchOutcome
from schemas.topics import ENGAGEMENT, OUTCOMES
from trellis.kafka import encode

# Partition keys repeat (one per account): hash each once. Same function as aiokafka's
# DefaultPartitioner, so records land where ``send()`` would put them.
_key_hash = functools.lru_cache(maxsize=65_536)(murmur2)


class BrokerUnavailable(Exception):
    """The broker did not acknowledge in time: the caller answers 503 and the sender retries."""


@dataclass
class _Record:
    topic: str
    key: bytes
    value: bytes
    delivered: asyncio.Future[None] = field(repr=False)


def partition_for(key: bytes, partitions: Sequence[int]) -> int:
    """aiokafka's (and the Java client's) default: murmur2 of the key over sorted partitions."""
    index: int = (_key_hash(key) & 0x7FFFFFFF) % len(partitions)
    return partitions[index]


class _Flush:
    """The records taken in one pass, failed together if not all acknowledged in time."""

    def __init__(self, records: list[_Record], timeout_s: float) -> None:
        self.records = records
        self.batches = 0
        expired = TimeoutError(f"not acknowledged within {timeout_s}s")
        self._deadline = asyncio.get_running_loop().call_later(timeout_s, _fail, records, expired)

    def acked(self, taken: list[_Record], acked: asyncio.Future[object]) -> None:
        exc = None if acked.cancelled() else acked.exception()
        if acked.cancelled() or exc is not None:
            _fail(taken, exc or BrokerUnavailable("batch cancelled"))
        else:
            for record in taken:
                if not record.delivered.done():
                    record.delivered.set_result(None)
        self.batches -= 1
        if self.batches == 0:
            self._deadline.cancel()

    def failed(self, exc: BaseException) -> None:
        _fail(self.records, exc)
        self._deadline.cancel()


class KafkaEventPublisher:
    def __init__(self, producer: AIOKafkaProducer, timeout_s: float) -> None:
        self._producer = producer
        self._timeout_s = timeout_s
        self._queued: list[_Record] = []
        self._wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    async def publish(self, events: Sequence[EngagementEvent]) -> None:
        """Return only once every event is acknowledged; raise ``BrokerUnavailable`` otherwise."""
        await self._send_all(ENGAGEMENT, [(e.partition_key(), encode(e)) for e in events])

    async def publish_outcomes(self, outcomes: Sequence[TouchOutcome]) -> None:
        """Provider callbacks, keyed by contact id; same acknowledgement rule as events."""
        await self._send_all(OUTCOMES, [(o.partition_key(), encode(o)) for o in outcomes])

    async def close(self) -> None:
        """Stop the flusher (before the producer stops); queued records fail."""
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
            self._flusher = None
        _fail(self._queued, BrokerUnavailable("ingest is shutting down"))
        self._queued = []

    async def _send_all(self, topic: str, records: Sequence[tuple[str, bytes]]) -> None:
        loop = asyncio.get_running_loop()
        waits = []
        for key, value in records:
            delivered: asyncio.Future[None] = loop.create_future()
            self._queued.append(_Record(topic, key.encode(), value, delivered))
            waits.append(delivered)
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush_forever(), name="ingest-publisher")
        self._wakeup.set()
        if len(waits) == 1:
            outcome: list[BaseException | None] = [await _settled(waits[0])]
        else:
            outcome = await asyncio.gather(*waits, return_exceptions=True)
        failure = next((o for o in outcome if o is not None), None)
        if failure is not None:
            raise BrokerUnavailable(f"{type(failure).__name__}: {failure}") from failure

    async def _flush_forever(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if not self._queued:
                continue
            flush = _Flush(self._queued, self._timeout_s)
            self._queued = []
            try:
                await self._submit(flush)
            except (KafkaError, TimeoutError, OSError) as exc:
                flush.failed(exc)
            except BaseException as exc:  # cancelled at shutdown, or a bug: nobody waits forever
                flush.failed(BrokerUnavailable(f"{type(exc).__name__}: {exc}"))
                raise

    async def _submit(self, flush: _Flush) -> None:
        by_partition: dict[tuple[str, int], list[_Record]] = defaultdict(list)
        partitions: dict[str, list[int]] = {}
        for record in flush.records:
            if record.topic not in partitions:
                known = await self._producer.partitions_for(record.topic)
                partitions[record.topic] = sorted(known)
            partition = partition_for(record.key, partitions[record.topic])
            by_partition[(record.topic, partition)].append(record)
        batches: list[tuple[str, int, object, list[_Record]]] = []
        for (topic, partition), queued in by_partition.items():
            while queued:
                batch = self._producer.create_batch()
                taken: list[_Record] = []
                for record in queued:
                    if batch.append(key=record.key, value=record.value, timestamp=None) is None:
                        break
                    taken.append(record)
                if not taken:  # one record larger than a whole batch
                    raise MessageSizeTooLargeError(f"a record of {len(queued[0].value)} bytes")
                queued = queued[len(taken) :]
                batch.close()  # complete: the sender need not linger for more
                batches.append((topic, partition, batch, taken))
        flush.batches = len(batches)
        for topic, partition, batch, taken in batches:
            # Waits while the previous batch for this partition is still queued (not in flight).
            acked = await self._producer.send_batch(batch, topic, partition=partition)
            acked.add_done_callback(functools.partial(flush.acked, taken))


async def _settled(future: asyncio.Future[None]) -> BaseException | None:
    try:
        await future
    except Exception as exc:  # any delivery failure: the request answers 503, the sender retries
        return exc
    return None


def _fail(records: Sequence[_Record], exc: BaseException) -> None:
    for record in records:
        if not record.delivered.done():
            record.delivered.set_exception(exc)
