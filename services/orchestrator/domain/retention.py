"""Customers, churn, net revenue retention and lifetime value (pure), from ``RevenueFact``s.

Definitions (money per currency, never summed across currencies):
- customers: an account is a customer from a won close until a ``subscription_cancelled``
  (effective at ``effective_at`` if given); winning again makes it a customer again.
- churn rate: accounts customer at ``since`` that cancelled inside the window / customers at
  ``since``.
- revenue of an account at t: the amounts of its deals won by t, times seats at t / seats at its
  first win (when ``seats_changed`` tells both), 0 once cancelled; NRR: sum of revenue(until) /
  sum of revenue(since) over the customers at ``since`` (expansion, contraction and churn; new
  customers excluded), per currency.
- CLTV: ARPA (mean revenue at ``until`` of the customers then, prorated to the window's length
  out of a year) x gross margin / churn rate; no figure when nobody churned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from services.orchestrator.domain.kpis import DAY, Deal, Money, RevenueFact, add_money, deals_at

YEAR_DAYS = Decimal(365)


def _cancel_at(f: RevenueFact) -> datetime:
    return f.effective_at or f.at


@dataclass(slots=True)
class _Account:
    events: list[tuple[datetime, bool]] = field(default_factory=list)  # (at, won=True/cancel)
    seats: list[tuple[datetime, int, int | None]] = field(default_factory=list)
    wins: list[Deal] = field(default_factory=list)


def _accounts(facts: Iterable[RevenueFact], until: datetime) -> dict[str, _Account]:
    out: dict[str, _Account] = defaultdict(_Account)
    facts = list(facts)
    for d in deals_at(facts, until).values():
        if d.won and d.account and d.closed_at is not None:
            out[d.account].wins.append(d)
            out[d.account].events.append((d.closed_at, True))
    for f in facts:
        if not f.account:
            continue
        if f.kind == "subscription_cancelled" and _cancel_at(f) < until:
            out[f.account].events.append((_cancel_at(f), False))
        if f.kind == "seats_changed" and f.seats is not None and f.at < until:
            out[f.account].seats.append((f.at, f.seats, f.previous_seats))
    for a in out.values():
        a.events.sort(key=lambda e: (e[0], not e[1]))  # a win and a cancel at once: cancelled
        a.seats.sort(key=lambda s: s[0])
    return out


def _customer(a: _Account, at: datetime) -> bool:
    """Customer at ``at``: the latest win/cancel event at or before ``at`` was a win."""
    state = False
    for when, won in a.events:
        if when > at:
            break
        state = won
    return state


def _seats(a: _Account, at: datetime) -> int | None:
    known = None
    for when, seats, _previous in a.seats:
        if when > at:
            break
        known = seats
    if known is None and a.seats and a.seats[0][0] > at:
        known = a.seats[0][2]  # before the first change: its previous count
    return known


def revenue(a: _Account, at: datetime) -> Money:
    """The account's contract revenue at ``at`` (see the module's definition)."""
    out: Money = {}
    if not _customer(a, at):
        return out
    won = [d for d in a.wins if d.closed_at is not None and d.closed_at <= at and d.amount]
    if not won:
        return out
    first = min(d.closed_at for d in won if d.closed_at is not None)
    now_seats, first_seats = _seats(a, at), _seats(a, first)
    scale = Decimal(now_seats) / first_seats if now_seats is not None and first_seats else 1
    for d in won:
        assert d.amount is not None
        add_money(out, d.currency, d.amount * scale)
    return out


@dataclass(frozen=True, slots=True)
class Retention:
    customers_at_start: int
    churned: int
    churn_rate: float | None
    revenue_at_start: Money
    revenue_at_end: Money
    nrr: dict[str, float]
    customers_at_end: int
    arpa: Money  # per window length
    gross_margin: float
    cltv: Money  # empty when nobody churned


def retention(
    facts: Iterable[RevenueFact], since: datetime, until: datetime, gross_margin: float
) -> Retention:
    accounts = _accounts(facts, until)
    base = {k: a for k, a in accounts.items() if _customer(a, since)}
    churned = sum(
        1 for a in base.values() if any(since < w < until and not won for w, won in a.events)
    )
    start: Money = {}
    end: Money = {}
    for a in base.values():
        for cur, v in revenue(a, since).items():
            add_money(start, cur, v)
        for cur, v in revenue(a, until - timedelta(microseconds=1)).items():
            add_money(end, cur, v)
    nrr = {cur: round(float(end.get(cur, 0) / v), 4) for cur, v in start.items() if v}
    last = until - timedelta(microseconds=1)
    customers = [a for a in accounts.values() if _customer(a, last)]
    totals: Money = {}
    counts: dict[str, int] = defaultdict(int)
    for a in customers:
        for cur, v in revenue(a, last).items():
            add_money(totals, cur, v)
            counts[cur] += 1
    period = Decimal((until - since) / DAY) / YEAR_DAYS
    arpa = {cur: v / counts[cur] * period for cur, v in totals.items()}
    rate = churned / len(base) if base else None
    margin = Decimal(str(gross_margin))
    cltv = {cur: v * margin / Decimal(str(rate)) for cur, v in arpa.items()} if rate else {}
    return Retention(
        len(base), churned, None if rate is None else round(rate, 4), start, end, nrr,
        len(customers), arpa, gross_margin, cltv,
    )  # fmt: skip
