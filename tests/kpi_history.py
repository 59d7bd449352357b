"""A small KPI history written as the orchestrator writes it (contacts, accounts, stage history
and, through ``revenue_store.record``, revenue facts), with the figures computed by hand: the
ops API test and the dashboard's browser test read it back.

With ``holdout_plan`` (50% held out of each), ``mql-proof`` lifts (75% of its treated contacts
reach sql, 25% of the held-out ones) and ``engaged-business`` does not (50% of each reach mql).
Two accounts, ``fin`` (fintech, EUR) and ``ret`` (retail, USD).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import EngagementEvent
from services.orchestrator.adapters import revenue_store
from services.orchestrator.adapters.tables import accounts, contacts, stage_history
from services.orchestrator.domain.holdout import held_out

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
HOLDOUTS = {"mql-proof": "50%", "engaged-business": "50%"}
SEQUENCES = (  # id, stage, next stage, role, people, converts when treated / held out (by index)
    ("mql-proof", "mql", "sql", "manager", 100, lambda k: k % 4 != 3, lambda k: k % 4 == 0),
    ("engaged-business", "engaged", "mql", "finance", 100, lambda k: k % 2 == 0,
     lambda k: k % 2 == 0),
)  # fmt: skip
"""mql-proof: 75% vs 25%; engaged-business: 50% vs 50%. Its finance contacts who reach mql
enter ``mql-proof-finance``, which holds nobody out."""


@dataclass
class Tally:
    treated: int = 0
    treated_on: int = 0
    held: int = 0
    held_on: int = 0


class History:
    """Contacts entering each sequence's stage at day 1, in the arm the plan's hash puts them;
    some reach the next stage at day 6. ``tally`` is what the lift must count."""

    def __init__(self, d0: datetime) -> None:
        self.d0 = d0
        self.people: list[dict[str, Any]] = []
        self.moves: list[dict[str, Any]] = []
        self.tally: dict[str, Tally] = {}

    def person(self, cid: str, firm: str, stage: str, role: str | None = None) -> None:
        self.people.append({"id": cid, "account_id": firm, "stage": stage, "role": role,
                            "traits": {}, "state": {}, "created_at": self.d0,
                            "updated_at": self.d0})  # fmt: skip

    def move(self, cid: str, stage: str, at: float) -> None:
        self.moves.append({"subject_kind": "contact", "subject_id": cid, "to_stage": stage,
                           "reason": "evidence", "occurred_at": self.d0 + timedelta(days=at),
                           "playbook_version": "t"})  # fmt: skip

    def sequence(
        self, seq: str, stage: str, on: str, role: str, n: int,
        treated_on: Callable[[int], bool], held_on: Callable[[int], bool],
    ) -> None:  # fmt: skip
        t = self.tally[seq] = Tally()
        for i in range(n):
            cid = f"{seq}-{i}"
            self.person(cid, FIRMS[i % 2][0], stage, role)
            self.move(cid, stage, 1)
            if held_out(0.5, cid, seq):
                moves_on = held_on(t.held)
                t.held, t.held_on = t.held + 1, t.held_on + moves_on
            else:
                moves_on = treated_on(t.treated)
                t.treated, t.treated_on = t.treated + 1, t.treated_on + moves_on
            if moves_on:
                self.move(cid, on, 6)


def holdout_plan(path: Path) -> Path:
    """The shipped nurture plan with ``HOLDOUTS``, written to ``path`` (for the ops settings)."""
    shipped = resources.files("services.orchestrator").joinpath("default_nurture.yaml")
    plan = yaml.safe_load(shipped.read_bytes())
    for q in plan["sequences"]:
        if q["id"] in HOLDOUTS:
            q["holdout"] = HOLDOUTS[q["id"]]
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


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
) -> History:
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
        events = [_event(d0, n, row) for n, row in enumerate(REVENUE)]
        who = {e.id: row[2] for e, row in zip(events, REVENUE, strict=True)}
        firm = {e.id: row[3] for e, row in zip(events, REVENUE, strict=True)}
        assert await revenue_store.record(conn, events, who, firm) == len(REVENUE) - 1
    return h
