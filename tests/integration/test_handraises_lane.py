"""Hand-raises ahead of the backlog, on the real broker: ingest publishes a live demo request on
``trellis.handraises.v1`` (history and everything else on the engagement topic), the laned loop
applies what it holds of that topic with its next batch instead of after the backlog, and the
orchestrator refuses to start when the two topics are partitioned differently."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import orjson
import pytest

from schemas.events import EngagementEvent
from schemas.historical import is_historical
from schemas.topics import ENGAGEMENT, HANDRAISES
from services.ingest.publisher import KafkaEventPublisher
from services.orchestrator.pipeline import LanedConsumer
from tests.integration.ingest_server import sample_event
from tests.probes import produce, read_topic
from trellis.broker import EmbeddedBroker
from trellis.consumer import LoopPolicy, Record, Rejected
from trellis.kafka import (
    TopicsMisconfigured,
    ensure_topics,
    make_consumer,
    make_producer,
    require_co_partitioned,
)
from trellis.settings import TrellisSettings

ON_LOOP = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def on_broker(broker: EmbeddedBroker) -> TrellisSettings:
    """The session broker alone: these tests touch no database (one run, not one per backend)."""
    return TrellisSettings(env="test", kafka_bootstrap=broker.bootstrap, kafka_idempotence=False,
                           topic_partitions=3)  # fmt: skip


@ON_LOOP
async def test_ingest_puts_a_live_hand_raise_on_its_own_topic_and_history_on_the_engagement_topic(
    broker: EmbeddedBroker, on_broker: TrellisSettings
) -> None:
    settings = on_broker
    await ensure_topics(settings)
    demo, sales, page = (
        EngagementEvent.model_validate(sample_event(kind))
        for kind in ("demo_requested", "contact_sales_requested", "page_viewed")
    )
    old_demo = EngagementEvent.model_validate(sample_event("demo_requested"))
    producer = make_producer(settings)
    await producer.start()
    try:
        publisher = KafkaEventPublisher(producer, timeout_s=10)
        await publisher.publish([demo, page, sales])
        await publisher.publish([old_demo], historical=True)
        await publisher.close()
    finally:
        await producer.stop()

    def ids(records: Sequence[Record]) -> set[str]:
        return {orjson.loads(r.value or b"")["id"] for r in records}

    raised = await read_topic(
        broker.bootstrap, HANDRAISES, lambda rs: {demo.id, sales.id} <= ids(rs)
    )
    rest = await read_topic(
        broker.bootstrap, ENGAGEMENT, lambda rs: {page.id, old_demo.id} <= ids(rs)
    )
    assert not ids(raised) & {page.id, old_demo.id}
    assert not ids(rest) & {demo.id, sales.id}
    by_id = {orjson.loads(r.value)["id"]: r for r in [*raised, *rest]}
    assert by_id[demo.id].key == by_id[page.id].key == demo.partition_key().encode()  # same key
    assert is_historical(by_id[old_demo.id].headers) and not is_historical(by_id[demo.id].headers)


async def _topics(settings: TrellisSettings, partitions: int) -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    pair = (f"events-{tag}", f"raised-{tag}")
    await ensure_topics(settings, topics=pair, partitions=partitions)
    return pair


@ON_LOOP
async def test_a_hand_raise_rides_on_the_next_batch_instead_of_waiting_for_the_backlog(
    broker: EmbeddedBroker, on_broker: TrellisSettings
) -> None:
    settings = on_broker
    events, raised = await _topics(settings, 3)
    backlog = [(f"acc{i % 30}".encode(), b"e%d" % i) for i in range(600)]
    await produce(broker.bootstrap, events, backlog)
    hands = [(f"acc{i}".encode(), b"h%d" % i) for i in range(3)]
    batches: list[list[bytes]] = []
    produced_after: list[int] = []

    async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
        batches.append([r.value or b"" for r in records])
        if len(batches) == 1:  # while the first batch is in flight, three demo requests arrive
            await produce(broker.bootstrap, raised, hands)
            produced_after.append(len(batches))
            await asyncio.sleep(1.0)  # the client's fetcher holds them by the end of the batch
        if sum(map(len, batches)) >= len(backlog) + len(hands):
            loop.stop()
        return []

    consumer = make_consumer(settings, events, raised, group_id=uuid.uuid4().hex)
    producer = make_producer(settings)
    await consumer.start()
    await producer.start()
    loop = LanedConsumer("first-test", consumer, producer, handler, LoopPolicy(max_records=50))  # type: ignore[arg-type]
    loop.lanes, loop.floor, loop.first = 1, 50, frozenset({raised})
    try:
        await asyncio.wait_for(loop.run(), 60)
    finally:
        await consumer.stop()
        await producer.stop()
    assert loop._raised_at is not None and loop._budgeted()  # short batches for a while now
    applied = [v for batch in batches for v in batch]
    assert sorted(applied) == sorted(v for _, v in backlog + hands)  # each once
    holding = [i for i, batch in enumerate(batches) if any(v.startswith(b"h") for v in batch)]
    assert holding == [1], f"the demo requests waited: batches {holding} of {len(batches)}"
    assert any(v.startswith(b"e") for v in batches[1]), "they rode on a batch of the rest"
    for topic_prefix in (b"e", b"h"):  # each partition of each topic still in order
        for key in {k for k, _ in backlog + hands}:
            mine = [
                v for v in applied if v.startswith(topic_prefix) and (key, v) in backlog + hands
            ]
            assert mine == [
                v for k, v in backlog + hands if k == key and v.startswith(topic_prefix)
            ]


@ON_LOOP
async def test_the_orchestrator_refuses_engagement_and_hand_raise_topics_partitioned_apart(
    on_broker: TrellisSettings,
) -> None:
    settings = on_broker
    tag = uuid.uuid4().hex[:8]
    three, four, alike = f"three-{tag}", f"four-{tag}", f"alike-{tag}"
    await ensure_topics(settings, topics=[three, alike], partitions=3)
    await ensure_topics(settings, topics=[four], partitions=4)
    await require_co_partitioned(settings, three, alike)
    await require_co_partitioned(settings, three, f"not-created-{tag}")  # checked once created
    with pytest.raises(TopicsMisconfigured, match=f"{three} has 3, {four} has 4 partitions"):
        await require_co_partitioned(settings, three, four)
