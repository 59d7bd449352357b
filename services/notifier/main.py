"""Composition root of the notifier process.

Until the channel adapters land, valid ``DispatchTouch`` commands are recorded in the send ledger
as ``queued`` (nothing acknowledged is lost) and invalid ones go to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.commands import DispatchTouch
from schemas.topics import TOUCHES
from services.notifier.ledger import record_queued
from services.notifier.settings import NotifierSettings
from trellis.consumer import BatchHandler, LoopPolicy, Record, Rejected
from trellis.runtime import run_consumer


async def on_touches(records: Sequence[Record], engine: AsyncEngine) -> list[Rejected]:
    commands: list[tuple[DispatchTouch, int]] = []
    rejected: list[Rejected] = []
    for record in records:
        try:
            commands.append((DispatchTouch.model_validate_json(record.value or b""), record.offset))
        except ValidationError as exc:
            rejected.append(
                Rejected(record, f"schema: {exc.error_count()} errors: {exc.errors()[0]['msg']}")
            )
    async with engine.begin() as conn:
        await record_queued(conn, commands, datetime.now(UTC))
    return rejected


async def run(settings: NotifierSettings) -> None:
    async def make_handler(engine: AsyncEngine, _producer: AIOKafkaProducer) -> BatchHandler:
        async def handle(records: Sequence[Record]) -> Sequence[Rejected]:
            return await on_touches(records, engine)

        return handle

    await run_consumer(
        "notifier",
        settings,
        [TOUCHES],
        settings.notifier_group,
        make_handler,
        LoopPolicy(max_records=settings.notifier_max_batch),
    )
