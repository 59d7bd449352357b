"""Read side of the revenue KPIs, segments and lift (``GET /v1/funnel``): loads facts,
segments and exposures, and shapes the pure results (``domain.kpis``, ``domain.retention``,
``domain.lift``) as plain dicts. Money is ``{currency: amount}``, never summed across currencies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters import revenue_store
from services.orchestrator.adapters.tables import accounts, contacts, stage_history
from services.orchestrator.domain.funnel import FunnelMetrics, Move, funnel_metrics
from services.orchestrator.domain.kpis import (
    STAGE_PROBABILITY,
    Nps,
    RevenueFact,
    deals_at,
    nps,
    pipeline,
    win_rate,
)
from services.orchestrator.domain.lift import (
    Arm,
    Difference,
    Member,
    exposures_of,
    lift_by_sequence,
)
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.retention import retention
from services.orchestrator.domain.segments import Segment, segment_value
from services.orchestrator.domain.stages import Stage


@dataclass(frozen=True, slots=True)
class KpiAsk:
    """What the caller chose: segment, gross margin, lift window, goal stage, minimum sample."""

    segment: Segment | None = None
    plan: NurtureConfig | None = None  # its sequences and holdouts; None: no lift measured
    gross_margin: float = 0.75
    lift_window: timedelta = timedelta(days=30)
    goal: Stage | None = None
    min_sample: int = 30


def money(m: Mapping[str, Decimal]) -> dict[str, float]:
    return {cur: round(float(v), 2) for cur, v in sorted(m.items())}


def funnel_dict(m: FunnelMetrics) -> dict[str, Any]:
    return {
        "in_stage": {s.value: n for s, n in m.in_stage.items()},
        "entered": {s.value: n for s, n in m.entered.items()},
        "conversion": [
            {
                "from": c.from_stage.value,
                "to": c.to_stage.value,
                "entered": c.entered,
                "converted": c.converted,
                "rate": None if c.rate is None else round(c.rate, 4),
            }
            for c in m.conversions
        ],
        "median_days_in_stage": {s.value: d for s, d in m.median_days_in_stage.items()},
        "p90_days_in_stage": {s.value: d for s, d in m.p90_days_in_stage.items()},
        "velocity": {
            "forward_moves_per_day": m.forward_moves_per_day,
            "median_days_to_reach": {s.value: d for s, d in m.median_days_to_reach.items()},
        },
    }


def _nps(n: Nps) -> dict[str, Any]:
    return {"score": n.score, "answers": n.answers, "promoters": n.promoters,
            "detractors": n.detractors}  # fmt: skip


def stage_at(moves: Sequence[Move]) -> Callable[[str, datetime], str | None]:
    """``stage_of(contact, at)``: the contact's stage at that instant, from its moves."""
    by: dict[str, list[Move]] = {}
    for m in sorted(moves, key=lambda m: (m.at, m.seq)):
        by.setdefault(m.subject, []).append(m)

    def stage_of(contact: str, at: datetime) -> str | None:
        known = [m for m in by.get(contact, ()) if m.at <= at]
        return known[-1].to_stage.value if known else None

    return stage_of


def revenue_kpis(
    facts: Sequence[RevenueFact], contact_moves: Sequence[Move], since: datetime,
    until: datetime, gross_margin: float,
) -> dict[str, Any]:  # fmt: skip
    """Pipeline, win rate, sales cycle, churn, NRR, CLTV (inputs shown) and NPS."""
    deals = deals_at(facts, until)
    p = pipeline(deals.values())
    w = win_rate(deals.values(), since, until)
    r = retention(facts, since, until, gross_margin)
    answered = {f.contact for f in facts if f.kind == "nps_submitted"}
    asked = [m for m in contact_moves if m.subject in answered]  # NPS needs their stages only
    overall, per_stage, per_account = nps(facts, since, until, stage_at(asked))
    return {
        "pipeline": {"open_deals": p.open_deals, "unpriced_deals": p.unpriced,
                     "value": money(p.value), "weighted": money(p.weighted),
                     "by_stage": {s: money(v) for s, v in sorted(p.by_stage.items())},
                     "stage_probability": STAGE_PROBABILITY},
        "deals": {"closed": w.closed, "won": w.won, "win_rate": w.rate,
                  "median_sales_cycle_days": w.median_cycle_days},
        "retention": {"customers_at_start": r.customers_at_start, "churned": r.churned,
                      "churn_rate": r.churn_rate, "revenue_at_start": money(r.revenue_at_start),
                      "revenue_at_end": money(r.revenue_at_end), "nrr": r.nrr,
                      "customers_at_end": r.customers_at_end},
        "cltv": {"value": money(r.cltv), "arpa": money(r.arpa), "gross_margin": r.gross_margin,
                 "churn_rate": r.churn_rate,
                 "note": "" if r.cltv else "no figure: nobody churned in the window"},
        "nps": _nps(overall) | {"by_stage": {k: _nps(v) for k, v in per_stage.items()},
                                "by_account": {k: _nps(v) for k, v in per_account.items()}},
    }  # fmt: skip


async def segment_of(
    conn: AsyncConnection, segment: Segment, account_id: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """Each contact's and each account's value of the segment."""
    firm_q = select(accounts.c.id, accounts.c.traits, accounts.c.owner_rep)
    people_q = select(
        contacts.c.id, contacts.c.traits, contacts.c.owner_rep, accounts.c.traits,
        accounts.c.owner_rep,
    ).select_from(contacts.outerjoin(accounts, contacts.c.account_id == accounts.c.id))  # fmt: skip
    if account_id is not None:
        firm_q = firm_q.where(accounts.c.id == account_id)
        people_q = people_q.where(contacts.c.account_id == account_id)
    firms = {
        aid: segment_value(segment, traits, None, rep)
        for aid, traits, rep in await conn.execute(firm_q)
    }
    people = {
        cid: segment_value(segment, a_traits, c_traits, c_rep or a_rep)
        for cid, c_traits, c_rep, a_traits, a_rep in await conn.execute(people_q)
    }
    return people, firms


async def members(
    conn: AsyncConnection, account_id: str | None, since: datetime, until: datetime
) -> dict[str, Member]:
    """The account and role of each contact that moved inside the window (the only ones lift
    can count): what holdout membership and the sequence depend on."""
    moved = select(stage_history.c.subject_id).where(
        stage_history.c.subject_kind == "contact",
        stage_history.c.occurred_at >= since, stage_history.c.occurred_at < until,
    )  # fmt: skip
    query = select(contacts.c.id, contacts.c.account_id, contacts.c.role).where(
        contacts.c.id.in_(moved)
    )
    if account_id is not None:
        query = query.where(contacts.c.account_id == account_id)
    return {cid: Member(aid, role) for cid, aid, role in await conn.execute(query)}


def _arm(a: Arm) -> dict[str, Any]:
    rate = None if a.rate is None else round(a.rate, 4)
    return {"people": a.people, "converted": a.converted, "rate": rate}


def _difference(d: Difference) -> dict[str, Any]:
    return {
        "treated": _arm(d.treated), "held_out": _arm(d.held_out), "difference": d.value,
        "ci95": None if d.low is None else [d.low, d.high], "lifts": d.lifts, "note": d.note,
    }  # fmt: skip


def lift_dicts(
    people: Mapping[str, Member], moves: Sequence[Move], since: datetime, until: datetime,
    ask: KpiAsk,
) -> list[dict[str, Any]]:  # fmt: skip
    """Each sequence's lift over its holdout, by the plan in ``ask`` (none without one)."""
    if ask.plan is None:
        return []
    exposed = exposures_of(moves, people, ask.plan)
    found = lift_by_sequence(exposed, moves, since, until, ask.lift_window, ask.goal,
                             ask.min_sample)  # fmt: skip
    return [
        {"sequence": x.sequence, "stage": x.stage.value,
         "next_stage": x.next_stage.value if x.next_stage else None,
         "window_days": ask.lift_window / timedelta(days=1), "to_next": _difference(x.to_next),
         "goal": x.goal.value if x.goal else None,
         "to_goal": _difference(x.to_goal) if x.to_goal else None}
        for x in found
    ]  # fmt: skip


async def load_facts(
    conn: AsyncConnection, until: datetime, account_id: str | None
) -> list[RevenueFact]:
    return await revenue_store.load(conn, until, None if account_id is None else [account_id])


async def by_segment(
    conn: AsyncConnection, ask: KpiAsk, moves: Mapping[str, Sequence[Move]],
    facts: Sequence[RevenueFact], since: datetime, until: datetime, account_id: str | None,
) -> dict[str, Any]:  # fmt: skip
    """Stage KPIs of contacts and accounts and the revenue KPIs, per value of the segment."""
    assert ask.segment is not None
    people, firms = await segment_of(conn, ask.segment, account_id)
    values = sorted(set(people.values()) | set(firms.values()))
    mine_p: dict[str | None, list[Move]] = defaultdict(list)
    mine_f: dict[str | None, list[Move]] = defaultdict(list)
    mine_r: dict[str | None, list[RevenueFact]] = defaultdict(list)
    for m in moves["contacts"]:
        mine_p[people.get(m.subject)].append(m)
    for m in moves["accounts"]:
        mine_f[firms.get(m.subject)].append(m)
    for f in facts:
        mine_r[firms.get(f.account) if f.account else None].append(f)
    items = []
    for value in values:
        items.append({
            "value": value,
            "contacts": funnel_dict(funnel_metrics(mine_p[value], since, until)),
            "accounts": funnel_dict(funnel_metrics(mine_f[value], since, until)),
            "revenue": revenue_kpis(mine_r[value], mine_p[value], since, until, ask.gross_margin),
        })  # fmt: skip
    return {"by": ask.segment.value, "items": items}
