"""Kafka plumbing throughput on the embedded broker: our producer and consumer loop vs raw aiokafka.

    python -m bench kafka [--messages N] [--repeats R]

Prints medians over R runs and ratios against the raw client measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import rate
from schemas.events import EngagementEvent
from trellis.broker import EmbeddedBroker, free_port
from trellis.consumer import BatchConsumer, LoopPolicy, Record, Rejected
from trellis.kafka import encode, ensure_topics, make_consumer, make_producer
from trellis.settings import TrellisSettings


def sample_events(n: int) -> list[EngagementEvent]:
    return [
        EngagementEvent.model_validate(
            {
                "id": f"bench-{i}",
                "type": "page_viewed",
                "source": "bench",
                "time": "2026-11-02T10:00:00Z",
                "contact": {"external_id": f"c-{i % 5000}", "email": f"p{i % 5000}@acme.example"},
                "account": {"external_id": f"acc-{i % 500}"},
                "properties": {"path": "/pricing"},
            }
        )
        for i in range(n)
    ]


async def main(messages: int, repeats: int) -> None:
    log = Path(tempfile.mkdtemp()) / "tansu.log"
    broker = EmbeddedBroker("127.0.0.1", free_port(), log_path=log)
    await broker.start()
    settings = TrellisSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False)
    events = sample_events(messages)
    payloads = [(e.partition_key().encode(), encode(e)) for e in events]
    try:
        topic = f"bench.{uuid.uuid4().hex[:6]}"
        await ensure_topics(settings, [topic], partitions=6)

        async def raw_batch_produce() -> int:
            producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
            await producer.start()
            try:
                batch = producer.create_batch()
                futures = []
                for key, value in payloads:
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        futures.append(await producer.send_batch(batch, topic, partition=0))
                        batch = producer.create_batch()
                        batch.append(key=key, value=value, timestamp=None)
                futures.append(await producer.send_batch(batch, topic, partition=0))
                await asyncio.gather(*futures)
            finally:
                await producer.stop()
            return len(payloads), None

        async def trellis_produce() -> int:
            producer = make_producer(settings)
            await producer.start()
            try:
                futures = [
                    await producer.send(topic, value=encode(e), key=e.partition_key().encode())
                    for e in events
                ]
                await asyncio.gather(*futures)
            finally:
                await producer.stop()
            return len(events), None

        async def raw_consume() -> int:
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=broker.bootstrap,
                group_id=uuid.uuid4().hex,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
            )
            await consumer.start()
            seen = 0
            first: float | None = None
            try:
                while seen < messages:
                    for part in (await consumer.getmany(timeout_ms=200, max_records=2000)).values():
                        first = first or time.perf_counter()
                        for r in part:
                            orjson.loads(r.value)
                        seen += len(part)
            finally:
                await consumer.stop()
            return seen, time.perf_counter() - (first or 0)

        async def trellis_consume() -> int:
            consumer = make_consumer(settings, topic, group_id=uuid.uuid4().hex)
            producer = make_producer(settings)
            await consumer.start()
            await producer.start()
            seen = 0
            first: float | None = None
            done = 0.0

            async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
                nonlocal seen, first, done
                first = first or time.perf_counter()
                for r in records:
                    EngagementEvent.model_validate_json(r.value or b"")
                seen += len(records)
                if seen >= messages:
                    done = time.perf_counter()
                    loop.stop()
                return []

            loop = BatchConsumer("bench", consumer, producer, handler, LoopPolicy())
            try:
                await loop.run()
            finally:
                await consumer.stop()
                await producer.stop()
            return seen, done - (first or 0)

        # seed the topic once for the consumers (the produce runs add more, consumers read N)
        await trellis_produce()
        raw_p = await rate(raw_batch_produce, repeats, "raw aiokafka send_batch (1 partition)")
        our_p = await rate(trellis_produce, repeats, "trellis producer, send() per event")
        raw_c = await rate(raw_consume, repeats, "raw getmany + orjson decode")
        our_c = await rate(trellis_consume, repeats, "trellis BatchConsumer + pydantic validate")
    finally:
        broker.stop()
    print(f"\nKafka plumbing on the embedded broker: {messages:,} events, {repeats} runs each")
    print(raw_p.line())
    print(our_p.line(raw_p))
    print(raw_c.line())
    print(our_c.line(raw_c))


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench kafka", description=__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    asyncio.run(main(args.messages, args.repeats))
