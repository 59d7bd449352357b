"""Dead letters on a real broker: listed with their error, replayed to the original topic with
the dead-letter headers replaced by who replayed it, and the replay on record."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.dead_letter import DLQ_HEADER_ERROR, DLQ_HEADER_TOPIC
from schemas.topics import dead_letter
from services.orchestrator.dashboard import dead_letters
from tests.probes import read_topic
from trellis.kafka import ensure_topics, make_producer
from trellis.settings import TrellisSettings

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def _poison(settings: TrellisSettings, topic: str, bodies: list[bytes]) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for body in bodies:
            await producer.send_and_wait(
                dead_letter(topic),
                body,
                key=b"k",
                headers=[
                    ("traceparent", b"00-abc-01"),
                    (DLQ_HEADER_ERROR, b"ValueError: boom"),
                    (DLQ_HEADER_TOPIC, b"somewhere.else"),  # never trusted as the target
                ],
            )
    finally:
        await producer.stop()


async def test_dead_letters_are_listed_and_one_is_replayed_to_its_own_topic(
    settings: TrellisSettings, engine: AsyncEngine
) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [topic, dead_letter(topic)], partitions=1)
    await _poison(settings, topic, [b'{"id": "e-1"}', b"not json"])

    mine = [d for d in await dead_letters.list_dead_letters(settings) if d.target == topic]
    assert [(d.event_id, d.error) for d in mine] == [
        ("e-1", "ValueError: boom"),
        (None, "ValueError: boom"),
    ]

    first = await dead_letters.fetch(settings, dead_letter(topic), 0, mine[0].offset)
    done = await dead_letters.replay(settings, engine, [first], "dashboard: key ops (k1)", NOW)
    assert [(r.letter.ref, r.offset) for r in done] == [(first.ref, 0)]

    (back,) = await read_topic(settings.bootstrap_servers, topic, lambda r: len(r) >= 1)
    headers = dict(back.headers)
    assert back.value == b'{"id": "e-1"}' and back.key == b"k"
    assert headers["traceparent"] == b"00-abc-01"
    assert DLQ_HEADER_ERROR not in headers and DLQ_HEADER_TOPIC not in headers
    assert headers[dead_letters.HEADER_REPLAYED_BY] == b"dashboard: key ops (k1)"
    assert headers[dead_letters.HEADER_REPLAYED_FROM] == first.ref.encode()

    async with engine.connect() as conn:
        record = await dead_letters.replays(conn)
    assert record[first.ref]["by"] == "dashboard: key ops (k1)"
    assert mine[1].ref not in record


async def test_only_dead_letter_topics_and_existing_offsets_can_be_fetched(
    settings: TrellisSettings,
) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [topic, dead_letter(topic)], partitions=1)
    with pytest.raises(dead_letters.UnknownDeadLetter):
        await dead_letters.fetch(settings, topic, 0, 0)
    with pytest.raises(dead_letters.UnknownDeadLetter):
        await dead_letters.fetch(settings, dead_letter(topic), 0, 7)
