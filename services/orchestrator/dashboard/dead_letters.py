"""Dead-letter topics for people: list what every ``*.dlq`` topic holds, replay one or all.

A replay produces the original bytes and key back to the topic the message came from (the
dead-letter topic's name minus ``.dlq``; never a topic named by a header, which anyone producing
to the DLQ could forge). It then goes through the normal consumer path, where dedup by message id
keeps it safe: a message that was applied before changes nothing, and one that still fails is
dead-lettered again with its new error. Who replayed what is written to the decision log
(kind ``dead_letter_replayed``, no contact) and onto the replayed record's headers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import TopicPartition
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas.dead_letter import (
    DLQ_HEADER_CONSUMER,
    DLQ_HEADER_ERROR,
    DLQ_HEADER_OFFSET,
    DLQ_HEADER_PARTITION,
    DLQ_HEADER_TOPIC,
)
from schemas.topics import DLQ_SUFFIX
from services.orchestrator.adapters.tables import decisions
from trellis.kafka import make_consumer, make_producer
from trellis.settings import TrellisSettings

log = logging.getLogger(__name__)

HEADER_REPLAYED_BY = "trellis-replayed-by"
HEADER_REPLAYED_AT = "trellis-replayed-at"
HEADER_REPLAYED_FROM = "trellis-replayed-from"
DROPPED_ON_REPLAY = frozenset(
    {
        DLQ_HEADER_ERROR, DLQ_HEADER_TOPIC, DLQ_HEADER_PARTITION, DLQ_HEADER_OFFSET,
        DLQ_HEADER_CONSUMER, HEADER_REPLAYED_BY, HEADER_REPLAYED_AT, HEADER_REPLAYED_FROM,
    }
)  # fmt: skip
REPLAYED = "dead_letter_replayed"
READ_DEADLINE_S = 10.0


class UnknownDeadLetter(LookupError):
    """No message at that topic, partition and offset (or the topic is not a ``.dlq``)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    at: datetime
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def ref(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def target(self) -> str:
        return self.topic.removesuffix(DLQ_SUFFIX)

    def header(self, name: str) -> str:
        """The last value of header ``name`` (a message dead-lettered twice carries two)."""
        found = [v for k, v in self.headers if k == name]
        return found[-1].decode(errors="replace") if found else ""

    @property
    def error(self) -> str:
        return self.header(DLQ_HEADER_ERROR)

    @property
    def event_id(self) -> str | None:
        try:
            body = orjson.loads(self.value or b"")
        except orjson.JSONDecodeError:
            return None
        found = body.get("id") if isinstance(body, dict) else None
        return found if isinstance(found, str) else None

    def preview(self, limit: int = 600) -> str:
        text = (self.value or b"").decode(errors="replace")
        return text if len(text) <= limit else text[:limit] + "…"


def _letter(record: Any) -> DeadLetter:
    return DeadLetter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        at=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
    )


async def _read(
    settings: TrellisSettings, wanted: dict[TopicPartition, tuple[int, int]] | None, newest: int
) -> list[DeadLetter]:
    """Records of every ``.dlq`` partition (or of ``wanted``: partition -> [from, to)), at most
    ``newest`` per partition. A group-less read: assigned partitions, no offsets committed."""
    consumer = make_consumer(settings, group_id="trellis-dashboard", enable_auto_commit=False)
    try:
        await consumer.start()
        names = sorted(t for t in await consumer.topics() if t.endswith(DLQ_SUFFIX))
        parts = [
            TopicPartition(t, p) for t in names for p in consumer.partitions_for_topic(t) or ()
        ]
        if wanted is None:
            wanted = {tp: (0, 2**63) for tp in parts}
        parts = [tp for tp in parts if tp in wanted]
        if not parts:
            return []
        begin = await consumer.beginning_offsets(parts)
        end = await consumer.end_offsets(parts)
        wanted = {  # what is really there, at most the newest ``newest`` of each partition
            tp: (max(wanted[tp][0], begin[tp], end[tp] - newest), min(wanted[tp][1], end[tp]))
            for tp in parts
        }
        wanted = {tp: span for tp, span in wanted.items() if span[0] < span[1]}
        if not wanted:
            return []
        consumer.assign(list(wanted))
        for tp, (start, _) in wanted.items():
            consumer.seek(tp, start)
        out: list[DeadLetter] = []
        deadline = time.monotonic() + READ_DEADLINE_S
        pending = set(wanted)
        while pending and time.monotonic() < deadline:
            batch = await consumer.getmany(*pending, timeout_ms=200)
            for tp, records in batch.items():
                out += [_letter(r) for r in records if r.offset < wanted[tp][1]]
                if records and records[-1].offset + 1 >= wanted[tp][1]:
                    pending.discard(tp)
        if pending:
            log.warning("dead letters: gave up reading %s after %ss", pending, READ_DEADLINE_S)
        return sorted(out, key=lambda d: (d.topic, d.at, d.partition, d.offset))
    finally:
        await consumer.stop()


async def list_dead_letters(settings: TrellisSettings, newest: int = 200) -> list[DeadLetter]:
    """The newest ``newest`` messages of each partition of every ``*.dlq`` topic."""
    return await _read(settings, None, newest)


async def fetch(settings: TrellisSettings, topic: str, partition: int, offset: int) -> DeadLetter:
    if not topic.endswith(DLQ_SUFFIX):
        raise UnknownDeadLetter(f"{topic} is not a dead-letter topic")
    tp = TopicPartition(topic, partition)
    found = await _read(settings, {tp: (offset, offset + 1)}, 2**63)
    if not found:
        raise UnknownDeadLetter(f"no message at {topic}:{partition}:{offset}")
    return found[0]


@dataclass(frozen=True, slots=True)
class Replayed:
    letter: DeadLetter
    partition: int
    offset: int


async def replay(
    settings: TrellisSettings,
    engine: AsyncEngine,
    letters: Sequence[DeadLetter],
    by: str,
    now: datetime,
) -> list[Replayed]:
    """Send ``letters`` back to their original topics; record who did it, per message."""
    if not letters:
        return []
    producer = make_producer(settings)
    done: list[Replayed] = []
    try:
        await producer.start()
        for letter in letters:
            headers = [(k, v) for k, v in letter.headers if k not in DROPPED_ON_REPLAY] + [
                (HEADER_REPLAYED_BY, by.encode()),
                (HEADER_REPLAYED_AT, now.isoformat().encode()),
                (HEADER_REPLAYED_FROM, letter.ref.encode()),
            ]
            meta = await producer.send_and_wait(
                letter.target, value=letter.value, key=letter.key, headers=headers
            )
            done.append(Replayed(letter, meta.partition, meta.offset))
    finally:
        await producer.stop()
        if done:  # also when the broker failed half-way: what went out is on record
            async with engine.begin() as conn:
                await conn.execute(decisions.insert(), [_audit(r, by, now) for r in done])
        for r in done:
            log.info("dead letter %s replayed to %s by %s", r.letter.ref, r.letter.target, by)
    return done


def _audit(r: Replayed, by: str, now: datetime) -> dict[str, Any]:
    return {
        "contact_id": None, "account_id": None, "touch_id": None, "kind": REPLAYED,
        "reason": "REPLAYED", "event_id": r.letter.event_id, "playbook_version": "ops",
        "decided_at": now,
        "facts": {
            "by": by, "dead_letter": r.letter.ref, "to_topic": r.letter.target,
            "to_partition": r.partition, "to_offset": r.offset, "error": r.letter.error[:500],
        },
    }  # fmt: skip


async def replays(conn: AsyncConnection) -> dict[str, dict[str, Any]]:
    """Dead-letter ref -> the latest replay of it: ``{"by": ..., "at": ...}``."""
    rows = await conn.execute(
        select(decisions.c.facts, decisions.c.decided_at)
        .where(decisions.c.kind == REPLAYED)
        .order_by(decisions.c.decided_at, decisions.c.id)
    )
    return {f["dead_letter"]: {"by": f.get("by"), "at": at} for f, at in rows if f}
