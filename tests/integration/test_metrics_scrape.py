"""Each service's ``/metrics``, scraped while the whole stack carries one demo request from
ingest's HTTP request to the rep's reminder received by a real SMTP server, parsed with
Prometheus' own exposition parser."""

from __future__ import annotations

import uuid

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from services.orchestrator.ops.app import create_ops_app
from services.orchestrator.settings import OrchestratorSettings
from tests.integration.whole_stack import REP, Stack, whole_stack
from tests.probes import eventually
from trellis.broker import EmbeddedBroker
from trellis.db import create_engine
from trellis.settings import TrellisSettings

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{url}/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value, or the sum over the samples whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and want <= got)


async def test_every_service_exposes_metrics_that_move_as_it_works(
    settings: TrellisSettings, isolated_broker: EmbeddedBroker
) -> None:
    own = settings.model_copy(update={"kafka_bootstrap": isolated_broker.bootstrap})
    async with whole_stack(own) as stack:
        before = await scrape(stack.notifier_url)
        assert value(before, "trellis_notifier_sends_total") == 0
        email = f"ana-{uuid.uuid4().hex[:8]}@acme.example"
        answer = await stack.post(stack.demo_request(email))
        assert answer.status_code == 202, answer.text
        await eventually(lambda: _received(stack), bool)

        notifier = await eventually(  # the batch's own figures are counted once it commits
            lambda: scrape(stack.notifier_url),
            lambda s: (
                value(s, "trellis_notifier_sends_total", outcome="sent") >= 1
                and value(s, "trellis_notifier_records_consumed_total") >= 1
            ),
        )
        again = stack.demo_request(email) | {"type": "page_viewed", "properties": {"path": "/"}}
        assert (await stack.post(again)).status_code == 202
        orchestrator = await eventually(
            lambda: scrape(stack.ops_url),
            lambda s: value(s, "trellis_orchestrator_events_applied_total", type="page_viewed") > 0,
        )
        ingest = await scrape(str(stack.http.base_url))
        health = await stack.http.get(f"{stack.notifier_url}/healthz")

    assert health.json() == {"status": "ok"}
    assert value(ingest, "trellis_ingest_events_accepted_total") >= 1

    assert value(orchestrator, "trellis_orchestrator_events_applied_total", type="demo_requested")
    assert value(orchestrator, "trellis_orchestrator_batch_records_count") >= 1
    assert value(orchestrator, "trellis_orchestrator_batch_seconds_count") >= 1
    lag = [k for k in orchestrator if k[0] == "trellis_orchestrator_consumer_lag"]
    assert lag and {"topic", "partition"} <= {name for name, _ in lag[0][1]}
    assert value(orchestrator, "trellis_orchestrator_decisions_total", kind="stage_changed")
    assert value(orchestrator, "trellis_orchestrator_decisions_total", kind="touch_outcome")
    assert value(orchestrator, "trellis_orchestrator_events_applied_total", type="outcome")
    assert value(orchestrator, "trellis_orchestrator_scheduler_round_seconds_count") >= 1
    assert value(orchestrator, "trellis_orchestrator_touches_total", result="dispatched") >= 1
    assert value(orchestrator, "trellis_orchestrator_state_cache_lookups_total", result="hit")
    used = value(
        orchestrator, "trellis_orchestrator_state_cache_bytes", state="contact", kind="used"
    )
    budget = value(orchestrator, "trellis_orchestrator_state_cache_bytes", state="contact",
                   kind="budget")  # fmt: skip
    assert 0 < used < budget

    assert value(notifier, "trellis_notifier_sends_total", outcome="sent") >= 1
    assert value(notifier, "trellis_notifier_provider_seconds_count", result="sent") >= 1
    assert value(notifier, "trellis_notifier_ledger_claims_total", result="claimed") >= 1
    assert value(notifier, "trellis_notifier_records_consumed_total") >= 1
    assert value(notifier, "trellis_notifier_batch_records_count") >= 1


async def test_the_metrics_route_is_not_part_of_the_ops_api_contract(
    settings: TrellisSettings,
) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        app = create_ops_app(engine, OrchestratorSettings(**settings.model_dump()),
                             registry=CollectorRegistry())  # fmt: skip
        assert "/metrics" not in app.openapi()["paths"]
        assert any(getattr(r, "path", None) == "/metrics" for r in app.routes)
    finally:
        await engine.dispose()


async def _received(stack: Stack) -> bool:
    return any(REP in str(m["To"]) for m in stack.smtp.messages)
