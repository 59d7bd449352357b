"""The coalescing publisher: concurrent requests share batches, each answered only on its ack."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from schemas.events import ContactRef, EngagementEvent
from services.ingest.publisher import (
    FLIGHT_WAIT_S,
    BrokerUnavailable,
    KafkaEventPublisher,
    partition_for,
)


class FakeProducer:
    """Records submitted batches; the test decides when (and how) the broker answers."""

    def __init__(self, partitions: int = 3) -> None:
        self.partitions = set(range(partitions))
        self.sent: list[tuple[str, int, int, asyncio.Future[object]]] = []
        self._submitted = asyncio.Condition()

    async def batches(self, n: int) -> None:
        """Wait (bounded) until ``n`` batches were submitted."""
        async with asyncio.timeout(5), self._submitted:
            await self._submitted.wait_for(lambda: len(self.sent) >= n)

    async def partitions_for(self, topic: str) -> set[int]:
        return self.partitions

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(16 * 1024, 0)

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> Any:
        acked: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.sent.append((topic, partition, batch.record_count(), acked))
        async with self._submitted:
            self._submitted.notify_all()
        return acked


def _event(n: int) -> EngagementEvent:
    return EngagementEvent.model_validate(
        {
            "id": f"e-{n}",
            "type": "page_viewed",
            "source": "test",
            "time": "2026-01-05T10:00:00Z",
            "contact": ContactRef(external_id=f"c-{n}"),
            "properties": {"path": "/"},
        }
    )


@pytest.mark.parametrize("key", [b"a:acme.example", b"c:42", b"", "a:ünï".encode()])
def test_partitioning_matches_the_clients_default_partitioner(key: bytes) -> None:
    partitions = [0, 1, 2, 3, 4]
    assert partition_for(key, partitions) == DefaultPartitioner()(key, partitions, partitions)


async def test_concurrent_requests_share_a_batch_and_wait_for_its_acknowledgement() -> None:
    producer = FakeProducer(partitions=1)
    publisher = KafkaEventPublisher(producer, timeout_s=5)
    requests = [asyncio.create_task(publisher.publish([_event(n)])) for n in range(20)]
    await producer.batches(1)
    await asyncio.sleep(0.01)
    assert not any(r.done() for r in requests)  # nobody is answered before the ack
    assert [count for _, _, count, _ in producer.sent] == [20]  # one batch for all twenty
    producer.sent[0][3].set_result(None)
    await asyncio.gather(*requests)
    await publisher.close()


async def test_a_failed_batch_fails_every_request_in_it_and_the_next_ones_go_through() -> None:
    producer = FakeProducer(partitions=1)
    publisher = KafkaEventPublisher(producer, timeout_s=5)
    requests = [asyncio.create_task(publisher.publish([_event(n)])) for n in range(3)]
    await producer.batches(1)
    producer.sent[0][3].set_exception(OSError("broker gone"))
    results = await asyncio.gather(*requests, return_exceptions=True)
    assert all(isinstance(r, BrokerUnavailable) for r in results)
    later = asyncio.create_task(publisher.publish([_event(9)]))
    await producer.batches(2)
    producer.sent[1][3].set_result(None)
    await later
    await publisher.close()


async def test_records_never_acknowledged_fail_at_the_publish_timeout() -> None:
    producer = FakeProducer()
    publisher = KafkaEventPublisher(producer, timeout_s=0.05)
    with pytest.raises(BrokerUnavailable, match="TimeoutError"):
        await publisher.publish([_event(n) for n in range(4)])
    await publisher.close()


async def test_records_queued_during_a_flight_wait_for_its_acknowledgement_then_go_together() -> (
    None
):
    producer = FakeProducer(partitions=1)
    publisher = KafkaEventPublisher(producer, timeout_s=5)
    first = asyncio.create_task(publisher.publish([_event(0)]))
    await producer.batches(1)
    later = [asyncio.create_task(publisher.publish([_event(n)])) for n in range(1, 6)]
    await asyncio.sleep(FLIGHT_WAIT_S / 4)
    assert len(producer.sent) == 1  # the flight is not acknowledged yet: the rest queue up
    producer.sent[0][3].set_result(None)
    await first
    await producer.batches(2)
    assert [count for _, _, count, _ in producer.sent] == [1, 5]  # one produce for all five
    producer.sent[1][3].set_result(None)
    await asyncio.gather(*later)
    await publisher.close()


async def test_an_unacknowledged_flight_delays_the_next_one_by_the_flight_wait_at_most() -> None:
    producer = FakeProducer(partitions=1)
    publisher = KafkaEventPublisher(producer, timeout_s=0.5)
    stuck = asyncio.create_task(publisher.publish([_event(0)]))
    await producer.batches(1)
    loop = asyncio.get_running_loop()
    queued_at = loop.time()
    nxt = asyncio.create_task(publisher.publish([_event(1)]))
    await producer.batches(2)  # sent although the first flight never answered
    assert loop.time() - queued_at < 0.4  # well before the first one's publish timeout
    producer.sent[1][3].set_result(None)
    await nxt
    assert not stuck.done()
    with pytest.raises(BrokerUnavailable, match="TimeoutError"):  # still failed in time
        await stuck
    await publisher.close()


async def test_a_request_spanning_partitions_is_answered_when_all_are_acknowledged() -> None:
    producer = FakeProducer(partitions=4)
    publisher = KafkaEventPublisher(producer, timeout_s=5)
    events = [_event(n) for n in range(40)]
    request = asyncio.create_task(publisher.publish(events))
    await producer.batches(2)
    await asyncio.sleep(0)
    batches = list(producer.sent)
    assert len(batches) > 1 and sum(count for _, _, count, _ in batches) == 40
    for _, _, _, acked in batches[:-1]:
        acked.set_result(None)
    await asyncio.sleep(0.01)
    assert not request.done()  # one partition still unacknowledged
    batches[-1][3].set_result(None)
    await request
    failing = asyncio.create_task(publisher.publish(events))
    await producer.batches(len(batches) + 2)
    await asyncio.sleep(0)
    again = producer.sent[len(batches) :]
    again[0][3].set_exception(OSError("one partition's leader is gone"))
    for _, _, _, acked in again[1:]:
        acked.set_result(None)
    with pytest.raises(BrokerUnavailable, match="OSError"):
        await failing
    await publisher.close()
