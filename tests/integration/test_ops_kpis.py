"""GET /v1/funnel's revenue KPIs, segments and lift on both databases: revenue events stored by
``revenue_store.record`` (the orchestrator's writer), stage history, touches and HOLDOUT
decisions as the orchestrator writes them; the figures are the hand-computed ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import EngagementEvent
from services.orchestrator.adapters import revenue_store
from services.orchestrator.adapters.tables import (
    accounts,
    contacts,
    decisions,
    stage_history,
    touches,
)
from services.orchestrator.ops.app import OpsServer, create_ops_app
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.settings import OrchestratorSettings
from trellis.broker import free_port
from trellis.settings import TrellisSettings

D0 = datetime(2026, 6, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return D0 + timedelta(days=n)


def event(n: int, kind: str, at: float, who: str, firm: str, **props: Any) -> EngagementEvent:
    return EngagementEvent.model_validate({
        "id": f"k-{n}", "type": kind, "source": "crm", "time": day(at).isoformat(),
        "contact": {"external_id": who}, "account": {"external_id": firm}, "properties": props,
    })  # fmt: skip


REVENUE: list[tuple[str, float, str, str, dict[str, Any]]] = [  # kind, day, who, firm, props
    ("deal_created", 1, "p1", "fin", {"deal_id": "d1", "amount": 1000, "currency": "EUR",
                                      "stage": "proposal"}),
    ("deal_created", 2, "p2", "ret", {"deal_id": "d2", "amount": 2000.5, "currency": "USD",
                                      "stage": "negotiation"}),
    ("deal_created", -60, "p1", "fin", {"deal_id": "d0", "amount": 1200, "currency": "EUR"}),
    ("deal_closed_won", -50, "p1", "fin", {"deal_id": "d0"}),
    ("deal_created", -40, "p2", "ret", {"deal_id": "d3", "amount": 500, "currency": "USD"}),
    ("deal_closed_won", -30, "p2", "ret", {"deal_id": "d3"}),
    ("subscription_cancelled", 10, "p2", "ret", {}),
    ("seats_changed", 5, "p1", "fin", {"seats": 15, "previous_seats": 10}),
    ("nps_submitted", 3, "p1", "fin", {"score": 10}),
    ("nps_submitted", 4, "p2", "ret", {"score": 3}),
    ("page_viewed", 4, "p2", "ret", {"path": "/x"}),  # not a revenue fact
]  # fmt: skip


async def _seed(engine: AsyncEngine) -> None:
    rows_c, rows_h, rows_t, rows_d = [], [], [], []
    firms = [("fin", "fintech"), ("ret", "retail")]
    for i in range(80):  # mql-proof: 40 treated (30 reach sql), 40 held out (10 do)
        cid, firm = f"m{i}", firms[i % 2][0]
        held = i >= 40
        rows_c.append({"id": cid, "account_id": firm, "stage": "mql", "traits": {},
                       "state": {}, "created_at": D0, "updated_at": D0})  # fmt: skip
        rows_h.append(("contact", cid, "mql", day(1)))
        if (not held and i < 30) or (held and i < 50):
            rows_h.append(("contact", cid, "sql", day(6)))
        if held:
            facts = {"sequence": "mql-proof", "step": "case-study", "stage": "mql",
                     "holdout": "50%", "by": "contact"}  # fmt: skip
            rows_d.append({"contact_id": cid, "account_id": firm, "kind": "touch_not_planned",
                           "reason": "HOLDOUT", "playbook_version": "t", "decided_at": day(1),
                           "facts": facts})  # fmt: skip
        else:
            rows_t.append({"id": f"t-{cid}", "contact_id": cid, "account_id": firm,
                           "channel": "email", "template_id": "mql/case_study", "stage": "mql",
                           "sequence_step": "mql-proof/case-study", "status": "sent",
                           "due_at": day(1), "created_at": day(1)})  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(accounts.insert(), [
            {"id": f, "stage": "onboarding", "traits": {"industry": ind, "employees": 300},
             "state": {}, "created_at": D0, "updated_at": D0} for f, ind in firms
        ])  # fmt: skip
        buyers = [
            {
                "id": p,
                "account_id": f,
                "stage": "retained",
                "traits": {},
                "state": {},
                "created_at": D0,
                "updated_at": D0,
            }
            for p, f in (("p1", "fin"), ("p2", "ret"))
        ]
        await conn.execute(contacts.insert(), [*rows_c, *buyers])  # fmt: skip
        await conn.execute(stage_history.insert(), [
            {"subject_kind": k, "subject_id": s, "to_stage": st, "reason": "evidence",
             "occurred_at": at, "playbook_version": "t"} for k, s, st, at in rows_h
        ])  # fmt: skip
        await conn.execute(touches.insert(), rows_t)
        await conn.execute(decisions.insert(), rows_d)
        stored = await revenue_store.record(
            conn,
            [event(n, k, at, who, firm, **p) for n, (k, at, who, firm, p) in enumerate(REVENUE)],
            {f"k-{n}": r[2] for n, r in enumerate(REVENUE)},
            {f"k-{n}": r[3] for n, r in enumerate(REVENUE)},
        )
        assert stored == 10


@pytest.fixture
async def ops(settings: TrellisSettings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    await _seed(engine)
    port = free_port()
    own = OrchestratorSettings(**settings.model_dump(), ops_serve=False)
    async with engine.begin() as conn:
        key = (await issue_key(conn, Scope.READ, D0, None, name="read")).secret
    server = OpsServer(create_ops_app(engine, own, lambda: day(30)), "127.0.0.1", port)
    await server.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=30,
            headers={"Authorization": f"Bearer {key}"},
        ) as http:  # fmt: skip
            yield http
    finally:
        await server.stop()


async def test_revenue_kpis_per_currency_and_the_lift_of_a_sequence_over_its_holdout(
    ops: httpx.AsyncClient,
) -> None:
    r = await ops.get("/v1/funnel", params={"since": D0.isoformat(), "until": day(30).isoformat(),
                                            "goal_stage": "sql", "gross_margin": 0.8})  # fmt: skip
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
    (mql,) = body["lift"]
    assert (mql["sequence"], mql["stage"], mql["next_stage"]) == ("mql-proof", "mql", "sql")
    to_next = mql["to_next"]
    assert to_next["treated"] == {"people": 40, "converted": 30, "rate": 0.75}
    assert to_next["held_out"] == {"people": 40, "converted": 10, "rate": 0.25}
    assert to_next["difference"] == 0.5 and to_next["lifts"] is True
    low, high = to_next["ci95"]
    assert 0.3 < low < 0.5 < high < 0.7
    assert mql["to_goal"]["difference"] == 0.5
    assert body["contacts"]["p90_days_in_stage"]["mql"] == 5.0
    assert "two" in body["definitions"]["lift"]


async def test_below_the_minimum_sample_the_lift_says_so_and_segments_split_every_kpi(
    ops: httpx.AsyncClient,
) -> None:
    r = await ops.get("/v1/funnel", params={"since": D0.isoformat(), "until": day(30).isoformat(),
                                            "segment": "industry", "min_sample": 41})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    to_next = body["lift"][0]["to_next"]
    assert to_next["difference"] is None and to_next["ci95"] is None
    assert to_next["note"] == "not enough data: 40 treated, 40 held out (needs 41 each)"
    seg = {s["value"]: s for s in body["segments"]["items"]}
    assert body["segments"]["by"] == "industry" and set(seg) == {"fintech", "retail"}
    assert seg["fintech"]["revenue"]["pipeline"]["value"] == {"EUR": 1000.0}
    assert seg["retail"]["revenue"]["pipeline"]["value"] == {"USD": 2000.5}
    assert seg["fintech"]["contacts"]["entered"]["mql"] == 40  # every other m-contact
    bad = await ops.get("/v1/funnel", params={"segment": "planet"})
    assert bad.status_code == 422
