"""Revenue-grade KPIs (pure): pipeline, win rate, sales cycle and NPS from the business facts
kept per event (``RevenueFact``); churn, retention and lifetime value are ``domain.retention``.

The window is ``[since, until)``; ``until`` is the "as of" instant. Amounts keep their currency:
every money figure is a ``{currency: amount}`` map, never a sum across currencies.

Definitions (``KPI_DEFINITIONS`` holds the words the API docs and the dashboard show):
- a deal's amount and currency are the latest given (``deal_created`` / ``deal_closed_won``);
  its stage the latest ``deal_created`` / ``deal_stage_changed`` stage; its outcome the latest
  close (``deal_closed_won`` / ``deal_closed_lost``) at or before ``until`` — a deal lost, then
  re-opened and won counts once, as won, closed at its last close.
- open pipeline: deals created before ``until`` with no close by then (a close followed by a
  ``deal_stage_changed`` re-opens the deal), valued per deal stage and currency; weighted
  pipeline multiplies each by its stage's probability (``STAGE_PROBABILITY``, unknown stages 0).
- win rate: of the deals whose outcome's close falls in the window, the share won.
- sales cycle: days from ``deal_created`` to that close, median over those deals.
- customers, churn, NRR and CLTV: ``domain.retention``.
- NPS: % promoters (9-10) - % detractors (0-6) of each contact's latest answer in the window,
  overall, per stage the contact was in when answering, and per account.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

DAY = timedelta(days=1)
STAGE_PROBABILITY: dict[str, float] = {
    "prospecting": 0.1, "qualification": 0.2, "discovery": 0.2, "demo": 0.3,
    "proposal": 0.5, "negotiation": 0.7, "contract": 0.9, "commit": 0.9,
}  # fmt: skip
"""Default win probability by deal stage name (lower case); a stage not named weighs 0."""

Money = dict[str, Decimal]


@dataclass(frozen=True, slots=True)
class RevenueFact:
    """One business event as kept for KPIs (a row of ``revenue_facts``)."""

    kind: str  # the event type: deal_*, seats_changed, subscription_cancelled, nps_submitted
    at: datetime
    account: str | None = None
    contact: str | None = None
    deal: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    stage: str | None = None  # deal stage
    seats: int | None = None
    previous_seats: int | None = None
    score: int | None = None  # NPS answer
    effective_at: datetime | None = None  # a cancellation's


@dataclass(slots=True)
class Deal:
    deal: str
    account: str | None
    created_at: datetime | None = None
    amount: Decimal | None = None
    currency: str | None = None
    stage: str | None = None
    closed_at: datetime | None = None
    won: bool | None = None  # None: open


def deals_at(facts: Iterable[RevenueFact], until: datetime) -> dict[str, Deal]:
    """Every deal as it stood at ``until`` (facts in time order; later facts win)."""
    out: dict[str, Deal] = {}
    for f in sorted((f for f in facts if f.deal and f.at < until), key=lambda f: f.at):
        assert f.deal is not None
        d = out.setdefault(f.deal, Deal(f.deal, f.account))
        d.account = d.account or f.account
        if f.amount is not None:
            d.amount, d.currency = f.amount, f.currency or d.currency
        if f.kind == "deal_created":
            d.created_at = d.created_at or f.at
        if f.kind in ("deal_created", "deal_stage_changed") and f.stage:
            d.stage = f.stage
        if f.kind == "deal_stage_changed" and d.closed_at is not None:
            d.closed_at, d.won = None, None  # re-opened
        if f.kind in ("deal_closed_won", "deal_closed_lost"):
            d.closed_at, d.won = f.at, f.kind == "deal_closed_won"
    return out


def add_money(total: Money, currency: str | None, amount: Decimal) -> None:
    key = currency or "unknown"
    total[key] = total.get(key, Decimal(0)) + amount


@dataclass(frozen=True, slots=True)
class Pipeline:
    open_deals: int
    by_stage: dict[str, Money]
    value: Money
    weighted: Money
    unpriced: int  # open deals without an amount


def pipeline(deals: Iterable[Deal], weights: Mapping[str, float] = STAGE_PROBABILITY) -> Pipeline:
    by_stage: dict[str, Money] = defaultdict(dict)
    value: Money = {}
    weighted: Money = {}
    n = unpriced = 0
    for d in deals:
        if d.won is not None or d.created_at is None:
            continue
        n += 1
        if d.amount is None:
            unpriced += 1
            continue
        stage = (d.stage or "unknown").lower()
        add_money(by_stage[stage], d.currency, d.amount)
        add_money(value, d.currency, d.amount)
        add_money(weighted, d.currency, d.amount * Decimal(str(weights.get(stage, 0.0))))
    return Pipeline(n, dict(by_stage), value, weighted, unpriced)


@dataclass(frozen=True, slots=True)
class WinRate:
    closed: int
    won: int
    rate: float | None
    median_cycle_days: float | None


def win_rate(deals: Iterable[Deal], since: datetime, until: datetime) -> WinRate:
    closed = [d for d in deals if d.closed_at is not None and since <= d.closed_at < until]
    won = sum(1 for d in closed if d.won)
    cycles = [(d.closed_at - d.created_at) / DAY for d in closed if d.closed_at and d.created_at]
    return WinRate(
        len(closed),
        won,
        round(won / len(closed), 4) if closed else None,
        round(statistics.median(cycles), 6) if cycles else None,
    )


@dataclass(frozen=True, slots=True)
class Nps:
    answers: int
    promoters: int
    detractors: int

    @property
    def score(self) -> float | None:
        """% promoters - % detractors, -100..100."""
        if not self.answers:
            return None
        return round(100 * (self.promoters - self.detractors) / self.answers, 2)


def _nps(scores: Iterable[int]) -> Nps:
    s = list(scores)
    return Nps(len(s), sum(1 for x in s if x >= 9), sum(1 for x in s if x <= 6))


def nps(
    facts: Iterable[RevenueFact],
    since: datetime,
    until: datetime,
    stage_of: Callable[[str, datetime], str | None],
) -> tuple[Nps, dict[str, Nps], dict[str, Nps]]:
    """Overall, per stage (the contact's at the answer) and per account: each contact's latest
    answer in the window counts once."""
    latest: dict[str, RevenueFact] = {}
    for f in facts:
        answered = f.kind == "nps_submitted" and f.score is not None and since <= f.at < until
        if answered and f.contact and (f.contact not in latest or latest[f.contact].at <= f.at):
            latest[f.contact] = f
    per_stage: dict[str, list[int]] = defaultdict(list)
    per_account: dict[str, list[int]] = defaultdict(list)
    for contact, f in latest.items():
        assert f.score is not None
        per_stage[stage_of(contact, f.at) or "unknown"].append(f.score)
        if f.account:
            per_account[f.account].append(f.score)
    return (
        _nps(f.score for f in latest.values() if f.score is not None),
        {k: _nps(v) for k, v in sorted(per_stage.items())},
        {k: _nps(v) for k, v in sorted(per_account.items())},
    )
