"""The orchestrator's Prometheus metrics, served at the ops API's ``/metrics``.

Kept out of the planning code on purpose: the batch loop reports batches and lag
(``trellis.consumer_metrics``), the composition root times scheduler rounds
(``main.MeasuredScheduler``) and counts events by type, and the decision-log writers make one
call each, ``count_decisions``, which is a no-op until ``OrchestratorMetrics.install()``
(tests build many orchestrators in one process; the last one installed counts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from schemas.topics import OUTCOMES
from schemas.vocabulary import MAY_ASSERT
from services.orchestrator.adapters.state_cache import StateCaches
from trellis.consumer import Record, Rejected
from trellis.consumer_metrics import SECONDS, ConsumerMetrics

KNOWN_TYPES = frozenset().union(*MAY_ASSERT.values())
_TYPE_AT = b'"type":"'

_active: OrchestratorMetrics | None = None


def count_decisions(kinds_and_reasons: Iterable[tuple[str, str]]) -> None:
    """Count decision-log rows as they are written: every writer calls this once per write."""
    if _active is not None:
        _active.decided(kinds_and_reasons)


def event_type(value: bytes | None) -> str:
    """The event's ``type`` without parsing it: ingest encodes ``id`` then ``type``, compact, and
    a ``"type":"`` inside a string value would have its quotes escaped. Custom and unreadable
    types are one label each, so a producer cannot grow the label set."""
    if not value:
        return "unreadable"
    at = value.find(_TYPE_AT)
    if at < 0:
        return "unreadable"
    start = at + len(_TYPE_AT)
    name = value[start : value.find(b'"', start)].decode("utf-8", "replace")
    return name if name in KNOWN_TYPES else "custom"


class _CacheCollector(Collector):
    """Reads the state caches' plain hit/miss counts and memory at scrape time (nothing on the
    hot path)."""

    def __init__(self) -> None:
        self.caches: StateCaches | None = None

    def collect(self) -> Iterable[CounterMetricFamily | GaugeMetricFamily]:
        family = CounterMetricFamily(
            "trellis_orchestrator_state_cache_lookups",
            "Parsed-state cache lookups by kind of state and result (hit: stored text unchanged).",
            labels=["state", "result"],
        )
        if self.caches is not None:
            caches = self.caches
            for state, cache in (("contact", caches.contacts), ("account", caches.accounts)):
                family.add_metric([state, "hit"], cache.hits)
                family.add_metric([state, "miss"], cache.misses)
        yield family
        memory = GaugeMetricFamily(
            "trellis_orchestrator_state_cache_bytes",
            "Parsed-state cache memory by kind of state: 'used' as estimated per entry, 'budget' "
            "its share of TRELLIS_ORCHESTRATOR_STATE_CACHE_MB.",
            labels=["state", "kind"],
        )
        if self.caches is not None:
            for state, cache in (
                ("contact", self.caches.contacts),
                ("account", self.caches.accounts),
            ):
                memory.add_metric([state, "used"], cache.bytes)
                memory.add_metric([state, "budget"], cache.budget)
        yield memory


class OrchestratorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.consumer = ConsumerMetrics(self.registry, "orchestrator")
        self.events = Counter(
            "trellis_orchestrator_events_applied",
            "Engagement events and outcomes in batches the handler completed, by event type "
            "(outcomes: 'outcome'; duplicates skipped by the inbox count too).",
            ["type"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "trellis_orchestrator_decisions",
            "Decision-log rows written, by kind and reason (touch_skipped/touch_deferred carry "
            "the policy that said no).",
            ["kind", "reason"],
            registry=self.registry,
        )
        self.round_seconds = Histogram(
            "trellis_orchestrator_scheduler_round_seconds",
            "One dispatch-due-touches round: claim, decide again, publish, commit.",
            buckets=SECONDS,
            registry=self.registry,
        )
        self.touches = Counter(
            "trellis_orchestrator_touches",
            "Touches claimed as due by the scheduler, and those dispatched to the notifier.",
            ["result"],
            registry=self.registry,
        )
        self._claimed = self.touches.labels("claimed")
        self._dispatched = self.touches.labels("dispatched")
        self._by_type: dict[str, Counter] = {}
        self._by_decision: dict[tuple[str, str], Counter] = {}
        self._cache = _CacheCollector()
        self.registry.register(self._cache)

    def install(self, caches: StateCaches) -> None:
        """Make ``count_decisions`` count here, and read ``caches``' hit counts at scrape."""
        global _active
        _active = self
        self._cache.caches = caches

    def batch_applied(self, records: Sequence[Record], rejected: Sequence[Rejected]) -> None:
        poison = {id(r.record) for r in rejected}
        counts: dict[str, int] = {}
        for r in records:
            if id(r) not in poison:
                kind = "outcome" if r.topic == OUTCOMES else event_type(r.value)
                counts[kind] = counts.get(kind, 0) + 1
        for kind, n in counts.items():
            child = self._by_type.get(kind)
            if child is None:
                child = self._by_type[kind] = self.events.labels(kind)
            child.inc(n)

    def decided(self, kinds_and_reasons: Iterable[tuple[str, str]]) -> None:
        for key in kinds_and_reasons:
            child = self._by_decision.get(key)
            if child is None:
                child = self._by_decision[key] = self.decisions.labels(*key)
            child.inc()

    def scheduler_round(self, seconds: float, claimed: int, dispatched: int) -> None:
        self.round_seconds.observe(seconds)
        self._claimed.inc(claimed)
        self._dispatched.inc(dispatched)
