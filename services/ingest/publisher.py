"""Publishes accepted events and waits for the broker's acknowledgement (acks=all)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.events import EngagementEvent
from schemas.topics import ENGAGEMENT
from trellis.kafka import encode


class BrokerUnavailable(Exception):
    """The broker did not acknowledge in time: the caller answers 503 and the sender retries."""


class KafkaEventPublisher:
    def __init__(self, producer: AIOKafkaProducer, timeout_s: float) -> None:
        self._producer = producer
        self._timeout_s = timeout_s

    async def publish(self, events: Sequence[EngagementEvent]) -> None:
        """Return only once every event is acknowledged; raise ``BrokerUnavailable`` otherwise."""
        try:
            futures = [
                await self._producer.send(
                    ENGAGEMENT, value=encode(e), key=e.partition_key().encode()
                )
                for e in events
            ]
            await asyncio.wait_for(asyncio.gather(*futures), self._timeout_s)
        except (KafkaError, TimeoutError, OSError) as exc:
            raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc
