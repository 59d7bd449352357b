"""A small KPI history written as the orchestrator writes it (contacts, accounts, stage history,
touches, ``HOLDOUT`` decisions and, through ``revenue_store.record``, revenue facts), with the
figures computed by hand: the ops API test and the dashboard's browser test read it back.

``mql-proof`` lifts (40 treated, 30 reach sql; 40 held out, 10 do); ``engaged-business`` does not
(40 and 40, 20 of each reach mql). Two accounts, ``fin`` (fintech, EUR) and ``ret`` (retail, USD).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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

FIRMS = (("fin", "fintech"), ("ret", "retail"))
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
SEQUENCES = (  # id, stage, next stage, step, people per arm, treated on, held out on
    ("mql-proof", "mql", "sql", "case-study", 40, 30, 10),
    ("engaged-business", "engaged", "mql", "buyers-guide", 40, 20, 20),
)


class History:
    def __init__(self, d0: datetime) -> None:
        self.d0 = d0
        self.people: list[dict[str, Any]] = []
        self.moves: list[dict[str, Any]] = []
        self.touches: list[dict[str, Any]] = []
        self.held: list[dict[str, Any]] = []

    def day(self, n: float) -> datetime:
        return self.d0 + timedelta(days=n)

    def person(self, cid: str, firm: str, stage: str) -> None:
        self.people.append({"id": cid, "account_id": firm, "stage": stage, "traits": {},
                            "state": {}, "created_at": self.d0, "updated_at": self.d0})  # fmt: skip

    def move(self, cid: str, stage: str, at: float) -> None:
        self.moves.append({"subject_kind": "contact", "subject_id": cid, "to_stage": stage,
                           "reason": "evidence", "occurred_at": self.day(at),
                           "playbook_version": "t"})  # fmt: skip

    def sequence(
        self, seq: str, stage: str, on: str, step: str, n: int, t_on: int, h_on: int
    ) -> None:
        for i in range(2 * n):
            cid, firm, held = f"{seq}-{i}", FIRMS[i % 2][0], i >= n
            self.person(cid, firm, stage)
            self.move(cid, stage, 1)
            if i - (n if held else 0) < (h_on if held else t_on):
                self.move(cid, on, 6)
            at = self.day(1)
            if held:
                facts = {"sequence": seq, "step": step, "stage": stage, "holdout": "50%",
                         "by": "contact"}  # fmt: skip
                self.held.append({"contact_id": cid, "account_id": firm, "reason": "HOLDOUT",
                                  "kind": "touch_not_planned", "playbook_version": "t",
                                  "decided_at": at, "facts": facts})  # fmt: skip
            else:
                self.touches.append({"id": f"t-{cid}", "contact_id": cid, "account_id": firm,
                                     "channel": "email", "template_id": f"{stage}/{step}",
                                     "stage": stage, "sequence_step": f"{seq}/{step}",
                                     "status": "sent", "due_at": at, "created_at": at})  # fmt: skip


def _event(
    d0: datetime, n: int, row: tuple[str, float, str, str, dict[str, Any]]
) -> EngagementEvent:
    kind, at, who, firm, props = row
    return EngagementEvent.model_validate({
        "id": f"k-{n}", "type": kind, "source": "crm", "time": d0 + timedelta(days=at),
        "contact": {"external_id": who}, "account": {"external_id": firm}, "properties": props,
    })  # fmt: skip


async def seed_kpi_history(
    engine: AsyncEngine, d0: datetime = datetime(2026, 6, 1, tzinfo=UTC)
) -> None:
    h = History(d0)
    for seq in SEQUENCES:
        h.sequence(*seq)
    h.person("p1", "fin", "retained")
    h.person("p2", "ret", "retained")
    async with engine.begin() as conn:
        await conn.execute(accounts.insert(), [
            {"id": f, "stage": "onboarding", "traits": {"industry": ind, "employees": 300},
             "state": {}, "created_at": d0, "updated_at": d0} for f, ind in FIRMS
        ])  # fmt: skip
        await conn.execute(contacts.insert(), h.people)
        await conn.execute(stage_history.insert(), h.moves)
        await conn.execute(touches.insert(), h.touches)
        await conn.execute(decisions.insert(), h.held)
        events = [_event(d0, n, row) for n, row in enumerate(REVENUE)]
        who = {e.id: row[2] for e, row in zip(events, REVENUE, strict=True)}
        firm = {e.id: row[3] for e, row in zip(events, REVENUE, strict=True)}
        assert await revenue_store.record(conn, events, who, firm) == len(REVENUE) - 1
