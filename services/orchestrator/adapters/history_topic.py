"""History straight from the engagement topic, for ``trellis simulate --from-topic``.

Reads every partition from its earliest retained offset up to the end offsets seen at the start
(events arriving meanwhile are left for the next run), without a consumer group: nothing is
committed and the running orchestrator's position is untouched.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from aiokafka import TopicPartition
from pydantic import ValidationError

from schemas.events import EngagementEvent
from schemas.topics import ENGAGEMENT
from trellis.kafka import make_consumer
from trellis.settings import TrellisSettings


class TopicHistory:
    def __init__(self) -> None:
        self.events: list[EngagementEvent] = []
        self.invalid = 0  # poison on the topic: the orchestrator dead-lettered it too


async def read_history_topic(
    settings: TrellisSettings,
    topic: str = ENGAGEMENT,
    progress: Callable[[int], None] | None = None,
) -> TopicHistory:
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    history = TopicHistory()
    try:
        await consumer.topics()  # metadata for every topic: there is no subscription to fetch it
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return history
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > await consumer.position(tp)}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    try:
                        history.events.append(
                            EngagementEvent.model_validate(orjson.loads(record.value or b""))
                        )
                    except (orjson.JSONDecodeError, ValidationError):
                        history.invalid += 1
                if progress is not None:
                    progress(len(records))
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return history
