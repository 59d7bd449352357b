"""Read a whole topic once, without a consumer group: nothing is committed and no running
consumer's position moves. For tools (``simulate --from-topic``, ``reconcile``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiokafka import TopicPartition

from trellis.kafka import make_consumer
from trellis.settings import TrellisSettings


async def read_to_end(settings: TrellisSettings, topic: str) -> AsyncIterator[list[bytes | None]]:
    """The values of every partition from its earliest retained offset up to (at least) the end
    offsets seen at the start, batch by batch; records arriving meanwhile may be included."""
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    try:
        await consumer.topics()  # metadata for every topic: there is no subscription to fetch it
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > await consumer.position(tp)}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=5000)
            for records in batches.values():
                # Whole batches, even past the end offset seen at the start: Tansu answers the
                # latest offset as the last record batch's base offset + 1, so cutting at it
                # would drop the rest of that batch.
                yield [r.value for r in records]
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
