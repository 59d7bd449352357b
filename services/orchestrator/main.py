"""Composition root of the orchestrator process."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.topics import ENGAGEMENT, OUTCOMES
from services.orchestrator.adapters.repository import StateCaches
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.outcomes import apply_outcomes
from services.orchestrator.settings import OrchestratorSettings
from trellis.consumer import BatchHandler, LoopPolicy, Record, Rejected
from trellis.runtime import run_consumer


async def run(settings: OrchestratorSettings, stop: asyncio.Event | None = None) -> None:
    """Consume engagement events and delivery outcomes until SIGINT/SIGTERM or ``stop``."""

    playbook = settings.load_playbook()  # a broken playbook stops start-up, loudly

    async def make_handler(engine: AsyncEngine, _producer: AIOKafkaProducer) -> BatchHandler:
        caches = StateCaches()  # parsed states, reused only while the stored text is unchanged

        async def on_batch(records: Sequence[Record]) -> Sequence[Rejected]:
            # Consent changes first: an unsubscribe in the same batch as an event wins.
            outcomes = [r for r in records if r.topic == OUTCOMES]
            events = [r for r in records if r.topic != OUTCOMES]
            rejected: list[Rejected] = []
            if outcomes:
                rejected += await apply_outcomes(
                    outcomes, engine, playbook.version, datetime.now(UTC)
                )
            if events:
                rejected += await apply_engagement(events, engine, playbook, caches=caches)
            return rejected

        return on_batch

    await run_consumer(
        "orchestrator",
        settings,
        [ENGAGEMENT, OUTCOMES],
        settings.orchestrator_group,
        make_handler,
        LoopPolicy(max_records=settings.orchestrator_max_batch),
        stop=stop,
    )
