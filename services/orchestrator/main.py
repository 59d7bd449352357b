"""Composition root of the orchestrator process."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.topics import ENGAGEMENT
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.settings import OrchestratorSettings
from trellis.consumer import BatchHandler, LoopPolicy, Record, Rejected
from trellis.runtime import run_consumer


async def run(settings: OrchestratorSettings, stop: asyncio.Event | None = None) -> None:
    """Consume engagement events until SIGINT/SIGTERM or ``stop``."""

    playbook = settings.load_playbook()  # a broken playbook stops start-up, loudly

    async def make_handler(engine: AsyncEngine, _producer: AIOKafkaProducer) -> BatchHandler:
        async def on_engagement(records: Sequence[Record]) -> Sequence[Rejected]:
            return await apply_engagement(records, engine, playbook)

        return on_engagement

    await run_consumer(
        "orchestrator",
        settings,
        [ENGAGEMENT],
        settings.orchestrator_group,
        make_handler,
        LoopPolicy(max_records=settings.orchestrator_max_batch),
        stop=stop,
    )
