"""The batched consumer loop every Trellis service runs.

Acknowledgement policy, stated once: a batch's offsets are committed only after the handler has
made the batch's effects durable (its DB transaction committed) and every poison message of the
batch has been acknowledged by the dead-letter topic. A crash anywhere before that redelivers the
batch, and handlers deduplicate by message id, so nothing is lost and nothing applies twice.

A handler that raises is retried with backoff. Transient failures (database or broker down) are
retried until they clear, never dead-lettered. Any other failure that persists splits the batch in
halves until the failing message is alone, and that message goes to ``<topic>.dlq`` with the
error; the partition moves on. Messages a handler rejects itself (schema-invalid) go there
directly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from schemas.dead_letter import (
    DLQ_HEADER_CONSUMER,
    DLQ_HEADER_ERROR,
    DLQ_HEADER_OFFSET,
    DLQ_HEADER_PARTITION,
    DLQ_HEADER_TOPIC,
)
from schemas.topics import dead_letter
from trellis import tracing
from trellis.consumer_metrics import ConsumerMetrics
from trellis.logs import error_kind, redact

log = logging.getLogger(__name__)


class Record(Protocol):
    """The parts of an aiokafka ``ConsumerRecord`` Trellis reads (bytes key and value)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class ConsumerStopped(Exception):
    """Raised out of a retry loop when shutdown was requested; the batch stays uncommitted."""


class HandlerInterrupted(Exception):
    """Raised by a handler that stopped part-way through a batch for shutdown, having left what
    it did not do to be redone: the batch stays uncommitted (redelivered), never retried here
    and never dead-lettered."""


def is_transient(exc: BaseException) -> bool:
    """Infrastructure failures (database or broker unreachable) are retried until they clear;
    they must never send a good message to the dead-letter topic."""
    if isinstance(exc, OSError | TimeoutError | KafkaConnectionError | KafkaTimeoutError):
        return True
    if isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    ):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and is_transient(cause)


def offsets(records: Sequence[Record]) -> str:
    """Where a batch sits, for a log line: ``topic[partition]@first..last`` per partition."""
    spans: dict[tuple[str, int], list[int]] = {}
    for r in records:
        spans.setdefault((r.topic, r.partition), []).append(r.offset)
    return ", ".join(f"{t}[{p}]@{min(o)}..{max(o)}" for (t, p), o in sorted(spans.items()))


@dataclass(frozen=True)
class Rejected:
    """A message the handler refuses for good (it will never succeed): sent to the DLQ."""

    record: Record
    error: str


BatchHandler = Callable[[Sequence[Record]], Awaitable[Sequence[Rejected]]]


@dataclass
class LoopPolicy:
    max_records: int = 2000
    poll_timeout_ms: int = 200
    attempts: int = 3
    backoff_s: float = 0.2
    max_backoff_s: float = 5.0


@dataclass
class LoopStats:
    batches: int = 0
    records: int = 0
    dead_lettered: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)


class BatchConsumer:
    """Runs ``handler`` over batches from ``consumer`` until ``stop()`` is called."""

    def __init__(
        self,
        name: str,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        handler: BatchHandler,
        policy: LoopPolicy | None = None,
        metrics: ConsumerMetrics | None = None,
    ) -> None:
        self.name = name
        self.metrics = metrics
        self._traced = tracing.enabled()  # asked once: nothing per batch when it is off
        self._consumer = consumer
        self._producer = producer
        self._handler = handler
        self._policy = policy or LoopPolicy()
        self._stopping = asyncio.Event()
        self.stats = LoopStats()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            batches = await self._consumer.getmany(
                timeout_ms=self._policy.poll_timeout_ms, max_records=self._policy.max_records
            )
            if not batches:
                continue
            records = [r for part in batches.values() for r in part]
            started = time.perf_counter()
            await self.process(records)
            await self._commit(batches)
            if self.metrics is not None:
                self.metrics.batch_applied(records, time.perf_counter() - started)
                self.metrics.lag_after(batches, self._consumer)

    async def process(self, records: Sequence[Record]) -> None:
        """Apply ``records`` and dead-letter the poison among them; raises only on shutdown."""
        if self._traced:
            with tracing.consuming(self.name, [r.headers for r in records]):
                rejected = await self._apply(records)
        else:
            rejected = await self._apply(records)
        for item in rejected:
            await self._dead_letter(item)
        self.stats.batches += 1
        self.stats.records += len(records)

    async def _apply(self, records: Sequence[Record]) -> list[Rejected]:
        error = ""
        delay = self._policy.backoff_s
        attempt = 0
        while attempt < self._policy.attempts:
            try:
                return list(await self._handler(records))
            except asyncio.CancelledError:
                raise
            except HandlerInterrupted as exc:
                raise ConsumerStopped(str(exc)) from exc
            except Exception as exc:  # the exception's kind decides the records' fate below
                error = f"{type(exc).__name__}: {exc}"  # for the dead-letter header only
                self.stats.retries += 1
                if self.metrics is not None:
                    self.metrics.retries.inc()
                transient = is_transient(exc)
                if not transient:
                    attempt += 1
                # Exception text echoes input (a constraint's DETAIL, a validator's message):
                # the log line names the records by offset and the error by its kind.
                log.warning(
                    "%s: batch of %d %s failed (%s, attempt %d/%d): %s",
                    self.name,
                    len(records),
                    offsets(records),
                    "transient, retrying until it clears" if transient else "poison suspect",
                    attempt,
                    self._policy.attempts,
                    error_kind(exc),
                )
                if self._stopping.is_set():
                    raise ConsumerStopped(error_kind(exc)) from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._policy.max_backoff_s)
        if len(records) == 1:
            return [Rejected(records[0], error)]
        middle = len(records) // 2
        return await self._apply(records[:middle]) + await self._apply(records[middle:])

    async def _dead_letter(self, item: Rejected) -> None:
        record = item.record
        headers = [
            *(record.headers or ()),
            (DLQ_HEADER_ERROR, item.error[:4000].encode()),
            (DLQ_HEADER_TOPIC, record.topic.encode()),
            (DLQ_HEADER_PARTITION, str(record.partition).encode()),
            (DLQ_HEADER_OFFSET, str(record.offset).encode()),
            (DLQ_HEADER_CONSUMER, self.name.encode()),
        ]
        await self._producer.send_and_wait(
            dead_letter(record.topic), value=record.value, key=record.key, headers=headers
        )
        self.stats.dead_lettered += 1
        if self.metrics is not None:
            self.metrics.dead_lettered.labels(record.topic).inc()
        log.error(
            "%s: dead-lettered %s[%d]@%d: %s",
            self.name,
            record.topic,
            record.partition,
            record.offset,
            redact(item.error[:300]),  # the header has it whole; handlers' own are value-free
        )

    async def _commit(self, batches: dict[TopicPartition, list[Record]]) -> None:
        offsets = {
            tp: OffsetAndMetadata(part[-1].offset + 1, "") for tp, part in batches.items() if part
        }
        await self._consumer.commit(offsets)
