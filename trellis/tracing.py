"""OpenTelemetry trace context through Kafka headers: ingest -> orchestrator -> notifier.

A record carries its producer's context as a W3C ``traceparent`` header (plus ``tracestate``
when there is one), so one trace runs from the HTTP request to the sent message. Tracing is on
only when a tracer provider has been configured in the process (the OpenTelemetry SDK, e.g.
under ``opentelemetry-instrument`` with an exporter; tests install one with an in-memory
exporter) — the same test FastAPI's own instrumentation applies to ingest's requests. Callers
ask ``enabled()`` once, at start-up, and skip every per-record step when it is off.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind

_CONTEXT_HEADERS = frozenset({"traceparent", "tracestate"})
_UNCONFIGURED = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)

Headers = list[tuple[str, bytes]]


def enabled() -> bool:
    """True once an SDK tracer provider is installed (the API's default records nothing)."""
    return not isinstance(trace.get_tracer_provider(), _UNCONFIGURED)


def tracer() -> trace.Tracer:
    return trace.get_tracer("trellis")


def inject(headers: Sequence[tuple[str, bytes]] | None = None) -> Headers:
    """``headers`` plus the current context's ``traceparent`` (none outside a span)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [*(headers or ()), *((k, v.encode()) for k, v in carrier.items())]


def extract(headers: Sequence[tuple[str, bytes]] | None) -> Context | None:
    """The producer's context from a record's headers, or None if it carried none."""
    carrier = {k: v.decode("latin-1") for k, v in headers or () if k in _CONTEXT_HEADERS and v}
    return propagate.extract(carrier) if "traceparent" in carrier else None


@contextmanager
def consuming(
    name: str, headers_of: Sequence[Sequence[tuple[str, bytes]] | None]
) -> Iterator[None]:
    """A consumer span over a batch: the child of its first traced record (so a single event's
    trace runs on through what the batch produces), linked to every other traced record."""
    parents = [c for c in map(extract, headers_of) if c is not None]
    if not parents:
        yield
        return
    links = [Link(span.get_span_context()) for span in map(trace.get_current_span, parents[1:])]
    with tracer().start_as_current_span(
        f"{name} process", context=parents[0], kind=SpanKind.CONSUMER, links=links
    ):
        yield


class TracedProducer:
    """An ``AIOKafkaProducer`` whose ``send``/``send_and_wait`` add the current context to the
    record's headers; everything else is the producer's own. Used only when tracing is on, so
    an untraced process sends exactly as before."""

    def __init__(self, producer: Any) -> None:
        self._producer = producer

    async def send(self, topic: str, *args: Any, headers: Any = None, **kwargs: Any) -> Any:
        return await self._producer.send(topic, *args, headers=inject(headers), **kwargs)

    async def send_and_wait(
        self, topic: str, *args: Any, headers: Any = None, **kwargs: Any
    ) -> Any:
        return await self._producer.send_and_wait(topic, *args, headers=inject(headers), **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._producer, name)


def current() -> Context:
    """The current context, to carry work on in another task (``within``)."""
    return otel_context.get_current()


@contextmanager
def within(context: Context | None) -> Iterator[None]:
    """Run the block in ``context`` (taken with ``current`` where the work was asked for): what
    it produces carries that trace on. None: the block's own context."""
    if context is None:
        yield
        return
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)
