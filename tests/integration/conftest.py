"""Integration fixtures shared across service tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from services.orchestrator.main import run
from services.orchestrator.settings import OrchestratorSettings
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings


@pytest.fixture
async def orchestrator(settings: TrellisSettings) -> AsyncIterator[OrchestratorSettings]:
    """The real orchestrator consumer, in this process, in a consumer group of its own."""
    own = OrchestratorSettings(
        **settings.model_dump(), orchestrator_group=f"orc-{uuid.uuid4().hex}"
    )
    await ensure_topics(own)
    stop = asyncio.Event()
    task = asyncio.create_task(run(own, stop))
    yield own
    stop.set()
    await asyncio.wait_for(task, 30)
