"""Composition root of the notifier process: consume ``DispatchTouch`` commands, send each at
most once (see ``dispatch``), publish outcomes; schema-invalid commands go to the DLQ.

Two lanes, each its own consumer group, database pool, producer, HTTP client and dispatcher:
marketing on ``trellis.touches.v1`` and rep reminders on ``trellis.reminders.v1``. A backlog of
marketing email therefore never sits in front of a reminder: the reminders lane has nothing to
wait for but its own (small) traffic."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from aiokafka import AIOKafkaProducer
from opentelemetry.context import Context
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.commands import Channel, DispatchTouch
from schemas.topics import REMINDERS, TOUCHES
from services.notifier.channels.smtp_pool import SmtpConnectionPool
from services.notifier.dispatch import Dispatcher, KafkaOutcomePublisher, RateLimiter
from services.notifier.http import create_http_app, serve_http
from services.notifier.metrics import NotifierMetrics
from services.notifier.rate_limit import SqlRateLimiter
from services.notifier.render import JinjaRenderer
from services.notifier.retry import RetryPolicy
from services.notifier.senders import build_senders, smtp_config
from services.notifier.settings import NotifierSettings
from trellis import tracing
from trellis.consumer import BatchHandler, LoopPolicy, Record, Rejected
from trellis.health import ConsumerHealth
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


async def on_touches(
    records: Sequence[Record], dispatcher: Dispatcher, traced: bool = False
) -> list[Rejected]:
    """``traced``: tracing is on; each send continues the trace its command carried."""
    commands: list[tuple[DispatchTouch, int]] = []
    rejected: list[Rejected] = []
    traces: dict[str, Context] = {}
    for record in records:
        try:
            command = DispatchTouch.model_validate_json(record.value or b"")
        except ValidationError as exc:
            rejected.append(
                Rejected(record, f"schema: {exc.error_count()} errors: {exc.errors()[0]['msg']}")
            )
            continue
        commands.append((command, record.offset))
        if traced and (parent := tracing.extract(record.headers)) is not None:
            traces[command.touch_id] = parent
    await dispatcher.dispatch(commands, traces)
    return rejected


@dataclass(frozen=True)
class Lane:
    """One consumer of the notifier: its topic, group and health (its half of ``/readyz``)."""

    name: str
    topic: str
    group: str
    health: ConsumerHealth


def lanes(settings: NotifierSettings) -> tuple[Lane, Lane]:
    """Marketing touches, then rep reminders (group ``<notifier group>-reminders``)."""
    grace = settings.ready_failing_after_s
    return (
        Lane("notifier", TOUCHES, settings.notifier_group, ConsumerHealth("notifier", grace)),
        Lane(
            "notifier-reminders", REMINDERS, f"{settings.notifier_group}-reminders",
            ConsumerHealth("notifier-reminders", grace),
        ),
    )  # fmt: skip


def readiness_of(both: Sequence[Lane]) -> Callable[[], Awaitable[dict[str, str]]]:
    """Ready only when every lane is. Problems keep their keys (``database``, ``group``...); the
    reminders lane's are told as ``reminders: ...``, after the touches lane's of the same key."""

    async def problems() -> dict[str, str]:
        found: dict[str, str] = {}
        for lane in both:
            for key, problem in (await lane.health.problems()).items():
                told = problem if lane.topic == TOUCHES else f"reminders: {problem}"
                found[key] = f"{found[key]}; {told}" if key in found else told
        return found

    return problems


async def run(settings: NotifierSettings, stop: asyncio.Event | None = None) -> None:
    renderer = JinjaRenderer(settings.load_templates())  # a broken template stops start-up
    stop = stop or asyncio.Event()  # set by SIGINT/SIGTERM (run_consumer); ends sends in a batch
    metrics = NotifierMetrics()
    traced = tracing.enabled()
    both = lanes(settings)
    http_app = create_http_app(metrics.registry, readiness_of(both))
    http_task = asyncio.create_task(
        serve_http(http_app, settings.notifier_http_host, settings.notifier_http_port, stop)
    )

    no_reminder = asyncio.Event()  # clear while the reminders lane dispatches a batch
    no_reminder.set()

    async def consume(lane: Lane, smtp_pool: SmtpConnectionPool | None) -> None:
        """One lane until ``stop``; a lane that ends (crash or not) stops the other too."""
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)) as http:
                senders = build_senders(settings, http, smtp_pool)

                async def make_handler(
                    engine: AsyncEngine, producer: AIOKafkaProducer
                ) -> BatchHandler:
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
                        metrics=metrics,
                        yields_to=no_reminder if lane.topic == TOUCHES else None,
                    )

                    async def handle(records: Sequence[Record]) -> Sequence[Rejected]:
                        if lane.topic == TOUCHES:
                            return await on_touches(records, dispatcher, traced)
                        no_reminder.clear()  # marketing sends wait until this batch is done
                        try:
                            return await on_touches(records, dispatcher, traced)
                        finally:
                            no_reminder.set()

                    return handle

                await run_consumer(
                    lane.name,
                    settings,
                    [lane.topic],
                    lane.group,
                    make_handler,
                    LoopPolicy(max_records=settings.notifier_max_batch),
                    stop=stop,
                    metrics=metrics.consumer,
                    health=lane.health,
                )
        finally:
            stop.set()

    try:
        async with SmtpConnectionPool(smtp_config(settings), settings.smtp_pool_size) as pool:
            # Reminders never share the marketing SMTP pool: they open their own connection.
            results = await asyncio.gather(
                consume(both[0], pool), consume(both[1], None), return_exceptions=True
            )
        for result in results:
            if isinstance(result, BaseException):
                raise result
    finally:
        stop.set()
        await http_task
