"""GET /v1/funnel's revenue KPIs, segments and lift on both databases, read back from the
history in ``tests/kpi_history.py`` (revenue events stored by ``revenue_store.record``, the
orchestrator's writer); the figures are the hand-computed ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.ops.app import OpsServer, create_ops_app
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.settings import OrchestratorSettings
from tests.kpi_history import History, holdout_plan, seed_kpi_history
from trellis.broker import free_port
from trellis.settings import TrellisSettings

D0 = datetime(2026, 6, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return D0 + timedelta(days=n)


@dataclass
class Ops:
    http: httpx.AsyncClient
    history: History


@pytest.fixture
async def ops(settings: TrellisSettings, engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Ops]:
    history = await seed_kpi_history(engine, D0)
    port = free_port()
    plan = holdout_plan(tmp_path / "plan.yaml")
    own = OrchestratorSettings(**settings.model_dump(), ops_serve=False, nurture=plan)
    async with engine.begin() as conn:
        key = (await issue_key(conn, Scope.READ, D0, None, name="read")).secret
    server = OpsServer(create_ops_app(engine, own, lambda: day(30)), "127.0.0.1", port)
    await server.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=30,
            headers={"Authorization": f"Bearer {key}"},
        ) as http:  # fmt: skip
            yield Ops(http, history)
    finally:
        await server.stop()


def _arm(people: int, converted: int) -> dict[str, Any]:
    return {"people": people, "converted": converted, "rate": round(converted / people, 4)}


async def test_revenue_kpis_per_currency_and_the_lift_of_a_sequence_over_its_holdout(
    ops: Ops,
) -> None:
    r = await ops.http.get("/v1/funnel", params={
        "since": D0.isoformat(), "until": day(30).isoformat(), "goal_stage": "sql",
        "gross_margin": 0.8,
    })  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    rev = body["revenue"]
    assert rev["pipeline"]["value"] == {"EUR": 1000.0, "USD": 2000.5}  # never summed
    assert rev["pipeline"]["weighted"] == {"EUR": 500.0, "USD": 1400.35}
    assert (rev["retention"]["customers_at_start"], rev["retention"]["churned"]) == (2, 1)
    assert rev["retention"]["nrr"] == {"EUR": 1.5, "USD": 0.0}  # fin grew 10 -> 15 seats
    assert rev["cltv"]["value"] == {"EUR": round(1800 * 30 / 365 * 0.8 / 0.5, 2)}
    assert (rev["nps"]["score"], rev["nps"]["answers"]) == (0.0, 2)
    assert rev["nps"]["by_account"]["fin"]["score"] == 100.0
    lifts = {x["sequence"]: x for x in body["lift"]}
    mql, t = lifts["mql-proof"], ops.history.tally["mql-proof"]
    assert (mql["stage"], mql["next_stage"], mql["goal"]) == ("mql", "sql", "sql")
    to_next = mql["to_next"]
    assert to_next["treated"] == _arm(t.treated, t.treated_on)
    assert to_next["held_out"] == _arm(t.held, t.held_on)
    assert to_next["difference"] == round(t.treated_on / t.treated - t.held_on / t.held, 4)
    assert to_next["difference"] > 0.4 and to_next["lifts"] is True
    low, high = to_next["ci95"]
    assert 0 < low < to_next["difference"] < high
    assert mql["to_goal"]["difference"] == to_next["difference"]
    flat = lifts["engaged-business"]["to_next"]
    assert flat["lifts"] is False and flat["ci95"][0] < 0 < flat["ci95"][1]
    finance = lifts["mql-proof-finance"]["to_next"]  # the finance contacts that reached mql
    assert finance["note"] == "no held-out contacts" and finance["difference"] is None
    assert finance["treated"]["people"] == ops.history.tally["engaged-business"].treated_on + (
        ops.history.tally["engaged-business"].held_on
    )
    assert body["contacts"]["p90_days_in_stage"]["mql"] == 5.0
    assert "two proportions" in body["definitions"]["lift"]


async def test_below_the_minimum_sample_the_lift_says_so_and_segments_split_every_kpi(
    ops: Ops,
) -> None:
    r = await ops.http.get("/v1/funnel", params={
        "since": D0.isoformat(), "until": day(30).isoformat(), "segment": "industry",
        "min_sample": 1000,
    })  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    t = ops.history.tally["mql-proof"]
    to_next = next(x for x in body["lift"] if x["sequence"] == "mql-proof")["to_next"]
    assert to_next["difference"] is None and to_next["ci95"] is None
    assert to_next["note"] == (
        f"not enough data: {t.treated} treated, {t.held} held out (needs 1000 each)"
    )
    seg = {s["value"]: s for s in body["segments"]["items"]}
    assert body["segments"]["by"] == "industry" and set(seg) == {"fintech", "retail"}
    assert seg["fintech"]["revenue"]["pipeline"]["value"] == {"EUR": 1000.0}
    assert seg["retail"]["revenue"]["pipeline"]["value"] == {"USD": 2000.5}
    mql = [s["contacts"]["entered"]["mql"] for s in seg.values()]
    assert sum(mql) == body["contacts"]["entered"]["mql"] and all(mql)
    assert seg["fintech"]["contacts"]["entered"]["engaged"] == 50  # every other contact
    bad = await ops.http.get("/v1/funnel", params={"segment": "planet"})
    assert bad.status_code == 422
