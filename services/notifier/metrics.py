"""The notifier's Prometheus metrics, served at ``/metrics`` on its small HTTP port.

Sends by channel and outcome, provider call latency, time spent waiting for the shared provider
budget, in-process retries and what the send ledger answered when touches were claimed, besides
the batch loop's own (``trellis.consumer_metrics``). Label children are resolved once per label
set, as ingest does: ``labels()`` takes a lock and builds a tuple per call.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from trellis.consumer_metrics import SECONDS, ConsumerMetrics

PROVIDER_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.consumer = ConsumerMetrics(self.registry, "notifier")
        self.sends = Counter(
            "trellis_notifier_sends",
            "Touches finished, by channel and outcome (sent, failed_retryable, failed).",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.provider_seconds = Histogram(
            "trellis_notifier_provider_seconds",
            "One provider call (SMTP transaction, SMS API request, webhook), by channel and "
            "result (sent, failed).",
            ["channel", "result"],
            buckets=PROVIDER_SECONDS,
            registry=self.registry,
        )
        self.rate_limit_waits = Histogram(
            "trellis_notifier_rate_limit_wait_seconds",
            "Time a send waited for the provider budget shared by all instances, by channel.",
            ["channel"],
            buckets=SECONDS,
            registry=self.registry,
        )
        self.retries = Counter(
            "trellis_notifier_retries",
            "Provider calls repeated after a retryable failure, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.ledger = Counter(
            "trellis_notifier_ledger_claims",
            "Touch commands by what the send ledger answered: claimed (this instance sends), "
            "known (already final: outcome re-published), unknown (found 'sending' after a "
            "crash: reported failed, never resent), released (left unsent at shutdown).",
            ["result"],
            registry=self.registry,
        )
        self._counters: dict[tuple[object, ...], Counter] = {}
        self._histograms: dict[tuple[object, ...], Histogram] = {}

    def _count(self, metric: Counter, *labels: str) -> Counter:
        key = (id(metric), *labels)
        child = self._counters.get(key)
        if child is None:
            child = self._counters[key] = metric.labels(*labels)
        return child

    def _observe(self, metric: Histogram, *labels: str) -> Histogram:
        key = (id(metric), *labels)
        child = self._histograms.get(key)
        if child is None:
            child = self._histograms[key] = metric.labels(*labels)
        return child

    def sent(self, channel: str, outcome: str, attempts: int) -> None:
        self._count(self.sends, channel, outcome).inc()
        if attempts > 1:
            self._count(self.retries, channel).inc(attempts - 1)

    def provider_call(self, channel: str, result: str, seconds: float) -> None:
        self._observe(self.provider_seconds, channel, result).observe(seconds)

    def waited(self, channel: str, seconds: float) -> None:
        self._observe(self.rate_limit_waits, channel).observe(seconds)

    def claims(self, claimed: int, known: int, unknown: int, released: int = 0) -> None:
        for result, n in (
            ("claimed", claimed),
            ("known", known),
            ("unknown", unknown),
            ("released", released),
        ):
            if n:
                self._count(self.ledger, result).inc(n)
