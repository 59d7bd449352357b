"""Composition root of the notifier process: consume ``DispatchTouch`` commands, send each at
most once (see ``dispatch``), publish outcomes; schema-invalid commands go to the DLQ."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.commands import Channel, DispatchTouch
from schemas.topics import TOUCHES
from services.notifier.channels.smtp_pool import SmtpConnectionPool
from services.notifier.dispatch import Dispatcher, KafkaOutcomePublisher, RateLimiter
from services.notifier.rate_limit import SqlRateLimiter
from services.notifier.render import JinjaRenderer
from services.notifier.retry import RetryPolicy
from services.notifier.senders import build_senders, smtp_config
from services.notifier.settings import NotifierSettings
from trellis.consumer import BatchHandler, LoopPolicy, Record, Rejected
from trellis.runtime import run_consumer


def build_limits(settings: NotifierSettings, engine: AsyncEngine) -> dict[Channel, RateLimiter]:
    limits: dict[Channel, RateLimiter] = {}
    if settings.smtp_rate_per_s:
        limits[Channel.EMAIL] = SqlRateLimiter(
            engine, "smtp", settings.smtp_rate_per_s, settings.rate_burst
        )
    if settings.sms_rate_per_s:
        limits[Channel.SMS] = SqlRateLimiter(
            engine, "sms", settings.sms_rate_per_s, settings.rate_burst
        )
    return limits


def utc_now() -> datetime:
    return datetime.now(UTC)


async def on_touches(records: Sequence[Record], dispatcher: Dispatcher) -> list[Rejected]:
    commands: list[tuple[DispatchTouch, int]] = []
    rejected: list[Rejected] = []
    for record in records:
        try:
            commands.append((DispatchTouch.model_validate_json(record.value or b""), record.offset))
        except ValidationError as exc:
            rejected.append(
                Rejected(record, f"schema: {exc.error_count()} errors: {exc.errors()[0]['msg']}")
            )
    await dispatcher.dispatch(commands)
    return rejected


async def run(settings: NotifierSettings, stop: asyncio.Event | None = None) -> None:
    renderer = JinjaRenderer(settings.load_templates())  # a broken template stops start-up
    stop = stop or asyncio.Event()  # set by SIGINT/SIGTERM (run_consumer); ends sends in a batch
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)) as http,
        SmtpConnectionPool(smtp_config(settings), settings.smtp_pool_size) as smtp_pool,
    ):
        senders = build_senders(settings, http, smtp_pool)

        async def make_handler(engine: AsyncEngine, producer: AIOKafkaProducer) -> BatchHandler:
            dispatcher = Dispatcher(
                engine=engine,
                senders=senders,
                renderer=renderer,
                publisher=KafkaOutcomePublisher(producer),
                clock=utc_now,
                concurrency=settings.notifier_concurrency,
                retry=RetryPolicy(
                    attempts=settings.notifier_retry_attempts,
                    base_s=settings.notifier_retry_base_s,
                    max_s=settings.notifier_retry_max_s,
                    max_age=timedelta(seconds=settings.notifier_max_age_s),
                ),
                limits=build_limits(settings, engine),
                stopping=stop,
            )

            async def handle(records: Sequence[Record]) -> Sequence[Rejected]:
                return await on_touches(records, dispatcher)

            return handle

        await run_consumer(
            "notifier",
            settings,
            [TOUCHES],
            settings.notifier_group,
            make_handler,
            LoopPolicy(max_records=settings.notifier_max_batch),
            stop=stop,
        )
