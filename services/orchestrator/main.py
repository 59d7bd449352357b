"""Composition root of the orchestrator process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.topics import ENGAGEMENT, ENGAGEMENT_TOPICS, HANDRAISES, OUTCOMES
from services.orchestrator.adapters.repository import StateCaches
from services.orchestrator.handlers import apply_engagement, utc_now
from services.orchestrator.metrics import OrchestratorMetrics
from services.orchestrator.ops.app import create_ops_app, reminder_links, serve_ops
from services.orchestrator.outcomes import apply_outcomes
from services.orchestrator.people import Nurture
from services.orchestrator.pipeline import LanedConsumer
from services.orchestrator.redispatch import Redispatcher
from services.orchestrator.retention import prune_old_rows
from services.orchestrator.scheduler import Scheduler
from services.orchestrator.settings import OrchestratorSettings
from trellis import tracing
from trellis.collector import Collector, tune_gc
from trellis.consumer import BatchConsumer, BatchHandler, LoopPolicy, Record, Rejected
from trellis.health import ConsumerHealth
from trellis.kafka import require_co_partitioned
from trellis.runtime import run_consumer

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_S = 5.0  # below the usual 10 s between SIGTERM and SIGKILL


class MeasuredScheduler(Scheduler):
    """The scheduler with each round timed and counted (its own loop's rounds and those run
    after a batch alike). Needs of ``Scheduler``: ``dispatch_due() -> int`` (touches claimed)
    and the running count ``dispatched``."""

    metrics: OrchestratorMetrics | None = None

    async def dispatch_due(self, limit: int | None = None) -> int:
        started = time.perf_counter()
        before = self.dispatched
        claimed = await super().dispatch_due(limit)
        if self.metrics is not None and claimed:
            seconds = time.perf_counter() - started
            self.metrics.scheduler_round(seconds, claimed, self.dispatched - before)
        return claimed


async def run(
    settings: OrchestratorSettings,
    stop: asyncio.Event | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> None:
    """Consume engagement events and delivery outcomes until SIGINT/SIGTERM or ``stop``; next to
    the consumer, the ``dispatch-due-touches`` scheduler runs on the same engine and producer."""

    stop = stop or asyncio.Event()
    if settings.orchestrator_tune_gc:
        tune_gc()
    collector = Collector() if settings.orchestrator_collect_between_batches else None
    playbook = settings.load_playbook()  # a broken playbook stops start-up, loudly
    nurture = Nurture(settings.load_nurture(), settings.rep_pool, settings.rep_domain_list)
    lock = asyncio.Lock()  # one writer at a time in this process: batches, scheduler rounds
    tasks: list[asyncio.Task[None]] = []
    metrics = OrchestratorMetrics()
    health = ConsumerHealth("orchestrator", settings.ready_failing_after_s)  # ops API's /readyz

    async def make_handler(engine: AsyncEngine, producer: AIOKafkaProducer) -> BatchHandler:
        await require_co_partitioned(settings, ENGAGEMENT, HANDRAISES)  # one account, one lane
        caches = StateCaches(settings.state_cache_bytes())  # reused while the text is unchanged
        metrics.install(caches)
        me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        if tracing.enabled():  # touch commands carry on the trace of the batch that made them
            producer = tracing.TracedProducer(producer)
        scheduler = MeasuredScheduler(
            engine, producer, nurture, me, clock, settings.orchestrator_scheduler_batch,
            links=reminder_links(settings), gap_s=settings.orchestrator_round_gap_ms / 1000,
        )  # fmt: skip
        scheduler.metrics = metrics
        if settings.ops_serve:  # the ops API shares this engine and clock
            ops = create_ops_app(engine, settings, clock, metrics.registry, ready=health.problems)
            serving = serve_ops(ops, settings.ops_host, settings.ops_port, stop)
            tasks.append(asyncio.create_task(serving, name="ops-api"))
        tasks.append(
            asyncio.create_task(
                scheduler.run(stop, settings.orchestrator_scheduler_interval_s, lock),
                name="dispatch-due-touches",
            )
        )
        redispatch = Redispatcher.of(settings, engine, producer, nurture, clock, scheduler.links)
        redispatching = redispatch.run(stop, settings.orchestrator_redispatch_interval_s, lock)
        tasks.append(asyncio.create_task(redispatching, name="redispatch-stale-touches"))
        pruning = prune_old_rows(
            engine, settings.retention, clock, stop, settings.prune_interval_s, settings.prune_batch
        )
        tasks.append(asyncio.create_task(pruning, name="prune-old-rows"))

        async def on_batch(records: Sequence[Record]) -> Sequence[Rejected]:
            # Outcomes have a lane of their own (``apart``), so a batch is one or the other;
            # consent is checked again when a touch is due, whichever lane applied first.
            outcomes = [r for r in records if r.topic == OUTCOMES]
            events = [r for r in records if r.topic != OUTCOMES]
            rejected: list[Rejected] = []
            async with lock if lanes == 1 else contextlib.nullcontext():  # one writer: SQLite
                if outcomes:
                    rejected += await apply_outcomes(
                        outcomes, engine, playbook.version, clock(), nurture.config.retry,
                        nurture.config,
                    )  # fmt: skip
                if events:
                    rejected += await apply_engagement(
                        events, engine, playbook, clock, caches=caches, nurture=nurture
                    )
            raised = sum(r.topic == HANDRAISES for r in events)
            if raised:  # a rep waits: a round of that many now, before the next batch
                await scheduler.dispatch_now(lock, raised)
            elif events:  # what the batch made due now (reminders) goes out now, in a round of
                scheduler.wake()  # the scheduler's own while the next batch runs
            metrics.batch_applied(records, rejected)
            if collector is not None:  # what the batch left behind, before the next one
                collector.safe_point()
            return rejected

        return on_batch

    lanes = settings.orchestrator_lanes or (
        2 if settings.resolved_database_url.startswith("postgresql") else 1
    )

    def batch_loop(*args: Any) -> BatchConsumer:
        loop = LanedConsumer(*args)
        loop.lanes, loop.floor = lanes, settings.orchestrator_min_batch
        loop.on_backlog = settings.orchestrator_lanes_on_backlog
        loop.apart = frozenset({OUTCOMES})  # a marketing drain's outcomes never hold a lead
        loop.apart_ceiling = settings.orchestrator_outcomes_batch
        loop.first = frozenset({HANDRAISES})  # a demo request never waits for the page views
        loop.budget_s = settings.orchestrator_batch_budget_ms / 1000 or None
        return loop

    if collector is not None:
        collector.take_over()
        tasks.append(asyncio.create_task(collector.run(stop), name="garbage-collector"))
    try:
        await run_consumer(
            "orchestrator",
            settings,
            [*ENGAGEMENT_TOPICS, OUTCOMES],
            settings.orchestrator_group,
            make_handler,
            LoopPolicy(max_records=settings.orchestrator_max_batch),
            stop=stop,
            health=health,
            metrics=metrics.consumer,
            loop_type=batch_loop,
            co_partitioned=True,  # partition p of the hand-raises with partition p of the rest
        )
    finally:
        stop.set()
        for task in tasks:  # the scheduler ends its round when stop is set
            try:
                await asyncio.wait_for(task, SHUTDOWN_GRACE_S)
            except TimeoutError:  # e.g. stuck on a dead database: its round rolls back, safely
                log.warning("%s still busy %ss after stop; cancelled", task.get_name(),
                            SHUTDOWN_GRACE_S)  # fmt: skip
        if collector is not None:
            collector.release()
