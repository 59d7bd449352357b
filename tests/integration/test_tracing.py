"""One trace from ingest's HTTP request to the message the SMTP server received: the context
travels in each record's ``traceparent`` header through the engagement and touches topics."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.util._once import Once

from tests.integration.whole_stack import REP, whole_stack
from tests.probes import eventually
from trellis import tracing
from trellis.broker import EmbeddedBroker
from trellis.settings import TrellisSettings


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """An SDK tracer provider for this test only (the API allows one per process: the previous
    one is put back afterwards, so other tests run untraced as before)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    saved = trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE = saved
        provider.shutdown()


def test_tracing_is_off_until_a_provider_is_configured() -> None:
    assert not tracing.enabled()
    assert tracing.extract([("traceparent", b"")]) is None
    assert tracing.inject([("x", b"1")]) == [("x", b"1")]  # no span: nothing to propagate


async def test_one_trace_runs_from_the_http_request_to_the_sent_message(
    spans: InMemorySpanExporter, settings: TrellisSettings, isolated_broker: EmbeddedBroker
) -> None:
    own = settings.model_copy(update={"kafka_bootstrap": isolated_broker.bootstrap})
    async with whole_stack(own) as stack:
        email = f"bo-{uuid.uuid4().hex[:8]}@acme.example"
        answer = await stack.post(stack.demo_request(email))
        assert answer.status_code == 202, answer.text

        async def sends() -> list[ReadableSpan]:
            return [s for s in spans.get_finished_spans() if s.name.startswith("send ")]

        (send,) = await eventually(sends, bool)
        assert any(REP in str(m["To"]) for m in stack.smtp.messages)

    finished = {s.context.span_id: s for s in spans.get_finished_spans()}
    chain = [send]
    while (parent := chain[-1].parent) is not None:
        assert parent.span_id in finished, f"a parent span is missing after {chain[-1].name}"
        chain.append(finished[parent.span_id])
    assert {s.context.trace_id for s in chain} == {send.context.trace_id}
    names = [s.name for s in chain]
    assert chain[-1].kind is SpanKind.SERVER and chain[-1].name == "POST /v1/events", names
    assert "orchestrator process" in names, names
    assert send.name == "send rep_call_reminder" and send.kind is SpanKind.PRODUCER
    # a rep reminder travels the reminders lane: its consumer is the notifier's second lane
    notifier = [s for s in finished.values() if s.name == "notifier-reminders process"]
    assert notifier and notifier[0].context.trace_id == send.context.trace_id
