"""Prometheus metrics of the batch loop every consumer service runs (``trellis.consumer``).

Batch size and latency, records by topic, dead letters, retries and the lag per partition, named
``trellis_<service>_...`` so each service's ``/metrics`` reads on its own. Lag is the broker's
high-water mark (from the fetch that returned the batch, no extra request) minus the next offset
to consume, measured after each batch: a partition with nothing new keeps its last value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:  # trellis.consumer imports this module
    from trellis.consumer import Record

BATCH_RECORDS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000)
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        prefix = f"trellis_{service}"
        self.batch_records = Histogram(
            f"{prefix}_batch_records",
            "Records per batch handed to the handler.",
            buckets=BATCH_RECORDS,
            registry=registry,
        )
        self.batch_seconds = Histogram(
            f"{prefix}_batch_seconds",
            "Time to apply a batch (its effects durable, dead letters acknowledged).",
            buckets=SECONDS,
            registry=registry,
        )
        self.records = Counter(
            f"{prefix}_records_consumed",
            "Records applied, by topic (redeliveries count again).",
            ["topic"],
            registry=registry,
        )
        self.dead_lettered = Counter(
            f"{prefix}_dead_lettered",
            "Records sent to <topic>.dlq, by source topic.",
            ["topic"],
            registry=registry,
        )
        self.retries = Counter(
            f"{prefix}_batch_retries",
            "Failed attempts at a batch (transient ones retry until they clear).",
            registry=registry,
        )
        self.lag = Gauge(
            f"{prefix}_consumer_lag",
            "Records on the partition not yet consumed by this instance, after its last batch.",
            ["topic", "partition"],
            registry=registry,
        )
        self._by_topic: dict[str, Counter] = {}
        self._lag: dict[tuple[str, int], Gauge] = {}

    def batch_applied(self, records: Sequence[Record], seconds: float) -> None:
        self.batch_records.observe(len(records))
        self.batch_seconds.observe(seconds)
        counts: dict[str, int] = {}
        for r in records:
            counts[r.topic] = counts.get(r.topic, 0) + 1
        for topic, n in counts.items():
            child = self._by_topic.get(topic)
            if child is None:
                child = self._by_topic[topic] = self.records.labels(topic)
            child.inc(n)

    def lag_after(self, batches: Mapping[Any, Sequence[Record]], consumer: Any) -> None:
        """``batches``: the ``getmany`` result; ``consumer``: its ``AIOKafkaConsumer``."""
        for tp, part in batches.items():
            if not part:
                continue
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            key = (tp.topic, tp.partition)
            gauge = self._lag.get(key)
            if gauge is None:
                gauge = self._lag[key] = self.lag.labels(tp.topic, str(tp.partition))
            gauge.set(max(0, highwater - (part[-1].offset + 1)))
