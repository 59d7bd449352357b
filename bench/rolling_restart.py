"""How long a rolling restart pauses a consumer group, with dynamic and with static membership.

    python -m bench rolling_restart [--restarts N] [--session-ms MS]

Two members consume a 6-partition topic fed at a steady rate; one member is closed and a new
one started in its place (a restart), N times. The pause is the longest time any partition
went without a delivery around a restart, minus the feed's own interval; printed per mode as
median and max. Runs on the embedded broker unless ``--bootstrap`` names a Kafka cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from trellis.broker import EmbeddedBroker, free_port
from trellis.kafka import ensure_topics, make_consumer, make_producer
from trellis.membership import GroupMembership
from trellis.settings import TrellisSettings

PARTITIONS = 6
FEED_INTERVAL_S = 0.01  # one record per partition every 10 ms


class Deliveries:
    def __init__(self) -> None:
        self.last: dict[int, float] = {}
        self.worst_gap: dict[int, float] = {}

    def seen(self, partition: int, at: float) -> None:
        gap = at - self.last.get(partition, at)
        self.worst_gap[partition] = max(self.worst_gap.get(partition, 0.0), gap)
        self.last[partition] = at

    def reset(self) -> None:
        self.worst_gap.clear()


async def _feed(settings: TrellisSettings, topic: str, stop: asyncio.Event) -> None:
    producer = make_producer(settings, linger_ms=0)
    await producer.start()
    try:
        while not stop.is_set():
            for p in range(PARTITIONS):
                await producer.send(topic, b"x", partition=p)  # queued; acks arrive later
            await asyncio.sleep(FEED_INTERVAL_S)
    finally:
        await producer.stop()


async def _member(
    settings: TrellisSettings, topic: str, group: str, seen: Deliveries, stop: asyncio.Event
) -> None:
    consumer: AIOKafkaConsumer = make_consumer(
        settings, topic, group_id=group, member=GroupMembership("bench"), fetch_max_wait_ms=10
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=50)
            now = time.monotonic()
            for tp, records in batches.items():
                if records:
                    seen.seen(tp.partition, now)
            if batches:
                await consumer.commit()
    finally:
        await consumer.stop()


async def _one_mode(base: TrellisSettings, static: bool, restarts: int) -> list[float]:
    topic = f"bench.rr.{uuid.uuid4().hex[:6]}"
    group = f"rr-{uuid.uuid4().hex[:6]}"
    await ensure_topics(base, [topic], partitions=PARTITIONS)
    seen = Deliveries()
    settings = [
        base.model_copy(update={"kafka_static_membership": static, "instance": f"m{i}"})
        for i in range(2)
    ]
    feed_stop, stops = asyncio.Event(), [asyncio.Event(), asyncio.Event()]
    feed = asyncio.create_task(_feed(base, topic, feed_stop))
    members = [
        asyncio.create_task(_member(s, topic, group, seen, e))
        for s, e in zip(settings, stops, strict=True)
    ]
    pauses: list[float] = []
    try:
        await _settle(seen)
        for _ in range(restarts):
            seen.reset()
            stops[1].set()
            await members[1]
            stops[1] = asyncio.Event()
            members[1] = asyncio.create_task(_member(settings[1], topic, group, seen, stops[1]))
            await _settle(seen)
            pauses.append(max(seen.worst_gap.values()) - FEED_INTERVAL_S)
    finally:
        for stop in stops:
            stop.set()
        feed_stop.set()
        await asyncio.gather(feed, *members, return_exceptions=True)
    return pauses


async def _settle(seen: Deliveries, quiet_s: float = 3.0, deadline_s: float = 120.0) -> None:
    """Until every partition has delivered within the last 0.5 s, then ``quiet_s`` more."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        now = time.monotonic()
        if len(seen.last) == PARTITIONS and all(now - t < 0.5 for t in seen.last.values()):
            await asyncio.sleep(quiet_s)
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the group never delivered from every partition")


async def main(restarts: int, session_ms: int, bootstrap: str | None) -> None:
    broker: EmbeddedBroker | None = None
    if bootstrap is None:
        broker = EmbeddedBroker(
            "127.0.0.1", free_port(), log_path=Path(tempfile.mkdtemp()) / "t.log"
        )
        await broker.start()
        bootstrap = broker.bootstrap
    base = TrellisSettings(
        kafka_bootstrap=bootstrap,
        kafka_idempotence=broker is None,
        kafka_session_timeout_ms=session_ms,
        kafka_heartbeat_interval_ms=min(3000, session_ms // 3),
    )
    try:
        for static in (False, True):
            pauses = await _one_mode(base, static, restarts)
            mode = "static " if static else "dynamic"
            print(
                f"{mode} membership, session {session_ms} ms, {restarts} restarts: pause median "
                f"{statistics.median(pauses):.2f} s, max {max(pauses):.2f} s"
            )
    finally:
        if broker is not None:
            broker.stop()


def cli(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench rolling_restart")
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--session-ms", type=int, default=10_000)
    parser.add_argument("--bootstrap", default=None)
    args = parser.parse_args(argv)
    asyncio.run(main(args.restarts, args.session_ms, args.bootstrap))
