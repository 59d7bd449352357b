"""``trellis import``: history onto ``trellis.engagement.v1`` in ``occurred_at`` order, each
record marked ``trellis-historical: 1`` and keyed as ingest keys it.

Through the broker, not into the database: the orchestrator owns each partition's contacts, so
history takes its place in the same queue as live traffic and one writer applies both (a side
door would race the live consumer). The orchestrator applies it to stages and scores and plans
nothing for the past. A re-run publishes the same ids again; the orchestrator's inbox drops what
it already applied, so an import that crashed is resumed by running it again."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from schemas.events import EngagementEvent
from schemas.historical import HISTORICAL_HEADER, HISTORICAL_VALUE
from schemas.topics import ENGAGEMENT
from trellis.kafka import encode, make_producer
from trellis.settings import TrellisSettings

HEADERS = [(HISTORICAL_HEADER, HISTORICAL_VALUE)]
CHUNK = 5_000  # records in flight before waiting for the broker's acknowledgements


class Progress:
    """One line on stderr, redrawn at most every ``every_s``: done/total, events/s, ETA."""

    def __init__(self, total: int, out: TextIO = sys.stderr, every_s: float = 0.5) -> None:
        self.total, self.out, self.every_s = total, out, every_s
        self.done = 0
        self.started = self._drawn = time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._drawn >= self.every_s or self.done >= self.total:
            self._drawn = now
            self.out.write("\r" + self.line(now - self.started))
            self.out.flush()

    def line(self, elapsed: float) -> str:
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        width = 30
        filled = width * self.done // self.total if self.total else width
        bar = "#" * filled + "." * (width - filled)
        return f"[{bar}] {self.done:,}/{self.total:,} {rate:,.0f} events/s ETA {left:,.0f} s "

    def close(self) -> None:
        self.out.write("\n")
        self.out.flush()


@dataclass(frozen=True)
class Published:
    events: int
    seconds: float


async def publish_history(
    settings: TrellisSettings,
    events: Iterable[EngagementEvent],
    total: int,
    topic: str = ENGAGEMENT,
    out: TextIO = sys.stderr,
) -> Published:
    """Publish in the given order (``history_read.in_order``), acknowledged chunk by chunk
    (acks=all): when this returns, every event is on the topic."""
    producer = make_producer(settings, linger_ms=5)
    await producer.start()
    progress = Progress(total, out)
    started = time.perf_counter()
    try:
        pending = []
        for e in events:
            key = e.partition_key().encode()
            pending.append(await producer.send(topic, encode(e), key=key, headers=HEADERS))
            if len(pending) >= CHUNK:
                await _acked(pending, progress)
        await _acked(pending, progress)
    finally:
        await producer.stop()
        progress.close()
    return Published(progress.done, time.perf_counter() - started)


async def _acked(pending: list[object], progress: Progress) -> None:
    for future in pending:
        await future  # type: ignore[misc]
    progress.advance(len(pending))
    pending.clear()
