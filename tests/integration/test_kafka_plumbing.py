"""Topics, producers and the batched consumer loop against the real Tansu broker."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.dead_letter import DLQ_HEADER_ERROR, DLQ_HEADER_OFFSET
from schemas.topics import ALL_TOPICS, dead_letter
from tests.probes import produce, read_topic
from trellis.broker import EmbeddedBroker
from trellis.consumer import (
    BatchConsumer,
    ConsumerStopped,
    HandlerInterrupted,
    LoopPolicy,
    Record,
    Rejected,
)
from trellis.kafka import describe_topics, ensure_topics, make_consumer, make_producer
from trellis.settings import TrellisSettings


def _settings(broker: EmbeddedBroker) -> TrellisSettings:
    return TrellisSettings(
        kafka_bootstrap=broker.bootstrap, kafka_idempotence=False, topic_partitions=4
    )


async def test_topic_bootstrap_creates_every_topic_and_dead_letter_topic_once(
    isolated_broker: EmbeddedBroker,
) -> None:
    settings = _settings(isolated_broker)
    created = await ensure_topics(settings)
    assert sorted(created) == sorted(ALL_TOPICS)
    described = await describe_topics(settings)
    assert {t: described[t] for t in ALL_TOPICS} == {t: 4 for t in ALL_TOPICS}
    assert await ensure_topics(settings) == []  # rerunning is harmless


async def test_one_key_always_lands_on_one_partition(isolated_broker: EmbeddedBroker) -> None:
    settings = _settings(isolated_broker)
    await ensure_topics(settings, ["keys.t"], partitions=4)
    producer = make_producer(settings)
    await producer.start()
    try:
        parts = {
            key: {(await producer.send_and_wait("keys.t", b"x", key=key.encode())).partition
                  for _ in range(5)}
            for key in ("a:acc-1", "a:acc-2", "c:c-3", "a:acc-4")
        }  # fmt: skip
    finally:
        await producer.stop()
    assert all(len(p) == 1 for p in parts.values()), parts


@contextlib.asynccontextmanager
async def _clients(
    settings: TrellisSettings, topic: str, group: str
) -> AsyncIterator[tuple[AIOKafkaConsumer, AIOKafkaProducer]]:
    consumer = make_consumer(settings, topic, group_id=group)
    producer = make_producer(settings)
    await consumer.start()
    await producer.start()
    try:
        yield consumer, producer
    finally:
        await consumer.stop()
        await producer.stop()


async def _run_loop(
    settings: TrellisSettings,
    topic: str,
    handler: object,
    expect: int,
    group: str | None = None,
    **policy: float,
) -> BatchConsumer:
    async with _clients(settings, topic, group or f"g-{uuid.uuid4().hex}") as (consumer, producer):
        loop = BatchConsumer(
            "test",
            consumer,
            producer,
            handler,  # type: ignore[arg-type]
            LoopPolicy(attempts=2, backoff_s=0.01, **policy),  # type: ignore[arg-type]
        )
        task = asyncio.create_task(loop.run())
        try:
            async with asyncio.timeout(30):
                while loop.stats.records < expect:  # noqa: ASYNC110 - polling a counter
                    await asyncio.sleep(0.05)
            # committed offsets are the proof that the loop acknowledged the batch
            async with asyncio.timeout(10):
                while True:
                    tp = TopicPartition(topic, 0)
                    if await consumer.committed(tp) == expect:
                        break
                    await asyncio.sleep(0.05)
        finally:
            loop.stop()
            await task
    return loop


async def test_a_message_that_keeps_failing_goes_to_the_dlq_and_the_rest_apply(
    isolated_broker: EmbeddedBroker,
) -> None:
    settings = _settings(isolated_broker)
    topic = "loop.poison"
    await ensure_topics(settings, [topic, dead_letter(topic)], partitions=1)
    await produce(settings.bootstrap_servers, topic, [(b"k", f"m{i}".encode()) for i in range(10)])
    applied: list[bytes] = []

    async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
        if any(r.value == b"m6" for r in records):
            raise ValueError("cannot apply m6")
        applied.extend(r.value or b"" for r in records)
        return []

    loop = await _run_loop(settings, topic, handler, expect=10)
    assert sorted(applied) == sorted(f"m{i}".encode() for i in range(10) if i != 6)
    dlq = await read_topic(settings.bootstrap_servers, dead_letter(topic), lambda r: len(r) >= 1)
    assert [r.value for r in dlq] == [b"m6"]
    headers = dict(dlq[0].headers)
    assert b"cannot apply m6" in headers[DLQ_HEADER_ERROR]
    assert headers[DLQ_HEADER_OFFSET] == b"6"
    assert loop.stats.dead_lettered == 1


async def test_rejected_messages_go_to_the_dlq_without_retries(
    isolated_broker: EmbeddedBroker,
) -> None:
    settings = _settings(isolated_broker)
    topic = "loop.rejects"
    await ensure_topics(settings, [topic, dead_letter(topic)], partitions=1)
    await produce(settings.bootstrap_servers, topic, [(None, b"ok"), (None, b"{bad json")])

    async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
        return [Rejected(r, "schema: not JSON") for r in records if r.value == b"{bad json"]

    loop = await _run_loop(settings, topic, handler, expect=2)
    dlq = await read_topic(settings.bootstrap_servers, dead_letter(topic), lambda r: len(r) >= 1)
    assert [r.value for r in dlq] == [b"{bad json"]
    assert loop.stats.retries == 0


async def test_an_outage_is_retried_until_it_clears_and_nothing_is_dead_lettered(
    isolated_broker: EmbeddedBroker,
) -> None:
    settings = _settings(isolated_broker)
    topic = "loop.outage"
    await ensure_topics(settings, [topic, dead_letter(topic)], partitions=1)
    await produce(settings.bootstrap_servers, topic, [(None, b"a"), (None, b"b")])
    failures = {"left": 5}  # more than LoopPolicy.attempts: only transient errors survive that
    applied: list[bytes] = []

    async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionRefusedError("database is down")
        applied.extend(r.value or b"" for r in records)
        return []

    loop = await _run_loop(settings, topic, handler, expect=2)
    assert applied == [b"a", b"b"]
    assert loop.stats.dead_lettered == 0
    assert loop.stats.retries == 5


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_the_embedded_broker_refuses_to_listen_beyond_loopback(host: str) -> None:
    from trellis.broker import BrokerError

    with pytest.raises(BrokerError, match="loopback"):
        EmbeddedBroker(host, 9092)


async def test_a_taken_port_is_reported_not_hidden(broker: EmbeddedBroker) -> None:
    from trellis.broker import BrokerError

    with pytest.raises(BrokerError, match="already in use"):
        await EmbeddedBroker(broker.host, broker.port).start()


def test_the_broker_process_is_told_apart_from_whoever_else_holds_its_port(
    broker: EmbeddedBroker,
) -> None:
    """A broker that lost its port to another answers metadata through the winner; only the
    listening socket's owner tells them apart (a parallel test run hit exactly this)."""
    import os

    from trellis.broker import listener_owned_by

    assert broker.pid is not None
    assert listener_owned_by(broker.pid, broker.port) is True
    assert listener_owned_by(os.getpid(), broker.port) is False


async def test_stopping_the_embedded_broker_ends_its_process(
    isolated_broker: EmbeddedBroker,
) -> None:
    import os

    pid = isolated_broker.pid
    assert pid is not None
    isolated_broker.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_handler_interrupted_for_shutdown_leaves_its_batch_for_redelivery(
    isolated_broker: EmbeddedBroker,
) -> None:
    settings = _settings(isolated_broker)
    topic = "loop.interrupted"
    await ensure_topics(settings, [topic, dead_letter(topic)], partitions=1)
    await produce(settings.bootstrap_servers, topic, [(None, f"m{i}".encode()) for i in range(3)])
    group = f"g-{uuid.uuid4().hex}"

    async def interrupted(records: Sequence[Record]) -> Sequence[Rejected]:
        raise HandlerInterrupted("stopping: 2 released")

    async with _clients(settings, topic, group) as (consumer, producer):
        loop = BatchConsumer("test", consumer, producer, interrupted, LoopPolicy(attempts=2))
        with pytest.raises(ConsumerStopped, match="2 released"):
            async with asyncio.timeout(30):
                await loop.run()
        assert await consumer.committed(TopicPartition(topic, 0)) is None  # nothing acknowledged
        assert (loop.stats.retries, loop.stats.dead_lettered) == (0, 0)
    applied: list[bytes] = []

    async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
        applied.extend(r.value or b"" for r in records)
        return []

    await _run_loop(settings, topic, handler, expect=3, group=group)
    assert applied == [b"m0", b"m1", b"m2"]  # redelivered to the next owner of the group
