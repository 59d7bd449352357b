"""Test probes: read a topic, wait for an effect — always with a deadline, never a bare sleep."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], deadline_s: float = 20.0
) -> T:
    """Poll ``probe`` until ``check`` accepts its value; fail with the last value seen."""
    end = time.monotonic() + deadline_s
    value = await probe()
    while not check(value):
        if time.monotonic() > end:
            raise AssertionError(f"condition not met within {deadline_s}s; last value: {value!r}")
        await asyncio.sleep(0.1)
        value = await probe()
    return value


async def read_topic(
    bootstrap: str,
    topic: str | tuple[str, ...],
    until: Callable[[list[Any]], bool],
    deadline_s: float = 20.0,
) -> list[Any]:
    """All records of ``topic`` (or of each of several) from the beginning, read until
    ``until(records)`` holds."""
    consumer = AIOKafkaConsumer(
        *((topic,) if isinstance(topic, str) else topic),
        bootstrap_servers=bootstrap,
        group_id=f"probe-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        end = time.monotonic() + deadline_s
        while not until(records):
            if time.monotonic() > end:
                raise AssertionError(f"{topic}: condition not met in {deadline_s}s ({records!r})")
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


async def produce(bootstrap: str, topic: str, items: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in items:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


@dataclass
class StoredRecord:
    """A consumed record as the handlers read it (``trellis.consumer.Record``), for feeding a
    handler directly without a broker round trip."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    timestamp: int = 0
    headers: tuple[tuple[str, bytes], ...] = ()
