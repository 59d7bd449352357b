"""Runs a consumer service: engine, producer, consumer and the batch loop, stopped on a signal.

Every consumer service (orchestrator, notifier) is started through ``run_consumer`` so start-up
order, graceful shutdown and the acknowledgement policy are the same everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from sqlalchemy.ext.asyncio import AsyncEngine

from trellis.broker import wait_for_metadata
from trellis.consumer import BatchConsumer, BatchHandler, ConsumerStopped, LoopPolicy
from trellis.consumer_metrics import ConsumerMetrics
from trellis.db import create_engine
from trellis.health import ConsumerHealth
from trellis.kafka import make_consumer, make_producer
from trellis.settings import TrellisSettings

log = logging.getLogger(__name__)

HandlerFactory = Callable[[AsyncEngine, AIOKafkaProducer], Awaitable[BatchHandler]]
T = TypeVar("T")

try:
    import uvloop as _uvloop
except ImportError:  # pragma: no cover
    _uvloop = None  # type: ignore[assignment]


def run_service(main: Coroutine[Any, Any, T]) -> T:
    """Run a service's main coroutine on uvloop where it is installed, as uvicorn runs ingest
    (``loop="auto"``); on plain asyncio otherwise (Windows). A notifier message is mostly event
    loop work, four SMTP replies read and a task woken for each: ``bench notifier`` measured
    555 against 619 us of CPU per message in one run."""
    if _uvloop is None:  # pragma: no cover - installed wherever uvicorn[standard] is
        return asyncio.run(main)
    return _uvloop.run(main)


def event_loop_name() -> str:
    """What ``run_service`` runs on: for a benchmark's header."""
    return "asyncio" if _uvloop is None else "uvloop"


async def run_consumer(
    name: str,
    settings: TrellisSettings,
    topics: Sequence[str],
    group_id: str,
    make_handler: HandlerFactory,
    policy: LoopPolicy | None = None,
    stop: asyncio.Event | None = None,
    health: ConsumerHealth | None = None,
    metrics: ConsumerMetrics | None = None,
    loop_type: Callable[..., BatchConsumer] = BatchConsumer,
    co_partitioned: bool = False,
) -> None:
    """Consume ``topics`` as ``group_id`` until SIGINT/SIGTERM (or ``stop`` is set);
    ``health`` (read by the service's ``/readyz``) is told of its clients, group and batches.
    ``loop_type``: the batch loop, built with ``BatchConsumer``'s arguments.
    ``co_partitioned``: partition p of every topic goes to the same member (the range assignor;
    topics keyed alike with equal partition counts then bring one key's records to one member;
    round robin, second, only while members of an older release are in the group)."""
    stop = stop or asyncio.Event()
    health = health or ConsumerHealth(name, settings.ready_failing_after_s)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)

    await wait_for_metadata(settings.bootstrap_servers, deadline_s=60)
    async with AsyncExitStack() as stack:
        engine = create_engine(settings.resolved_database_url)
        stack.push_async_callback(engine.dispose)
        producer = make_producer(settings)
        await producer.start()
        stack.push_async_callback(producer.stop)
        health.bind(engine, producer)
        handler = health.watch(await make_handler(engine, producer))
        # Range first; round robin too, so a group holding members of an older release (round
        # robin only) still forms; ``LanedConsumer`` holds back what is then not co-partitioned.
        options = {
            "partition_assignment_strategy": (RangePartitionAssignor, RoundRobinPartitionAssignor)
        }
        consumer = make_consumer(
            settings, *topics, group_id=group_id, member=health.membership,
            **(options if co_partitioned else {}),
        )  # fmt: skip
        await consumer.start()
        stack.push_async_callback(stop_consumer, consumer)
        loop_ = loop_type(name, consumer, producer, handler, policy, metrics)
        log.info("%s consuming %s as group %s", name, ", ".join(topics), group_id)
        task = asyncio.create_task(loop_.run(), name=f"{name}-loop")
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        loop_.stop()
        if task not in done:
            # Let the batch in hand finish (its effects and offsets) before closing clients.
            try:
                await asyncio.wait_for(task, timeout=15)
            except TimeoutError:
                task.cancel()
            except ConsumerStopped as exc:
                log.warning("%s stopped mid-batch (not committed, redelivers): %s", name, exc)
        else:
            stopper.cancel()
            try:
                task.result()  # a crashed loop is an error exit, not a quiet one
            except ConsumerStopped as exc:  # stopped mid-batch, ahead of the stop signal's task
                log.warning("%s stopped mid-batch (not committed, redelivers): %s", name, exc)
        log.info(
            "%s stopped: %d records in %d batches, %d dead-lettered",
            name, loop_.stats.records, loop_.stats.batches, loop_.stats.dead_lettered,
        )  # fmt: skip


async def stop_consumer(consumer: Any) -> None:
    """``consumer.stop()``, minus aiokafka's stray cancellation: a fetch that failed (the broker
    just went away) sleeps its retry back-off outside its own CancelledError guard, and the
    fetcher's ``close`` cancels and awaits it, so ``stop`` raises CancelledError though nothing
    cancelled us (seen in the readiness test after a broker cut). A cancellation of this task
    itself still propagates."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("consumer stopped; a fetch retry was cancelled during close")
