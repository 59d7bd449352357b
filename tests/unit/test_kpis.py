"""Revenue KPIs (pure), each definition pinned on a small history computed by hand: mixed
currencies reported apart, a churned account, a deal lost then re-won."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.orchestrator.domain.kpis import (
    RevenueFact,
    deals_at,
    nps,
    pipeline,
    win_rate,
)
from services.orchestrator.domain.retention import retention

D0 = datetime(2026, 1, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return D0 + timedelta(days=n)


def F(kind: str, at: float, **kw: object) -> RevenueFact:
    if "amount" in kw:
        kw["amount"] = Decimal(str(kw["amount"]))
    return RevenueFact(kind, day(at), **kw)  # type: ignore[arg-type]


DEALS = [
    # d1: EUR, open in proposal at the end
    F("deal_created", 1, account="a1", deal="d1", amount=1000, currency="EUR", stage="discovery"),
    F("deal_stage_changed", 5, account="a1", deal="d1", stage="Proposal"),
    # d2: USD, open in negotiation
    F("deal_created", 2, account="a2", deal="d2", amount=2000, currency="USD", stage="negotiation"),
    # d3: lost at day 10, re-opened at 12, won at 20 with a new amount: one deal, won
    F("deal_created", 0, account="a3", deal="d3", amount=500, currency="EUR", stage="demo"),
    F("deal_closed_lost", 10, account="a3", deal="d3"),
    F("deal_stage_changed", 12, account="a3", deal="d3", stage="negotiation"),
    F("deal_closed_won", 20, account="a3", deal="d3", amount=600, currency="EUR"),
    # d4: lost at day 8 (created day 4)
    F("deal_created", 4, account="a4", deal="d4", amount=300, currency="USD", stage="demo"),
    F("deal_closed_lost", 8, account="a4", deal="d4"),
    # d5: open, no amount
    F("deal_created", 6, account="a5", deal="d5", stage="demo"),
]


def test_open_pipeline_is_valued_per_stage_and_currency_never_summed_across_them() -> None:
    p = pipeline(deals_at(DEALS, day(30)).values())
    assert p.open_deals == 3  # d1, d2, d5 (d3 won, d4 lost)
    assert p.unpriced == 1
    assert p.by_stage == {"proposal": {"EUR": Decimal(1000)}, "negotiation": {"USD": Decimal(2000)}}
    assert p.value == {"EUR": Decimal(1000), "USD": Decimal(2000)}
    assert p.weighted == {"EUR": Decimal(500), "USD": Decimal(1400)}  # 0.5 and 0.7


def test_a_deal_lost_then_re_won_is_open_in_between_and_counts_once_as_won() -> None:
    between = deals_at(DEALS, day(15))["d3"]
    assert (between.won, between.closed_at, between.stage) == (None, None, "negotiation")
    assert pipeline([between]).value == {"EUR": Decimal(500)}
    final = deals_at(DEALS, day(30))["d3"]
    assert (final.won, final.closed_at, final.amount) == (True, day(20), Decimal(600))


def test_win_rate_and_sales_cycle_count_deals_by_their_last_close_in_the_window() -> None:
    deals = deals_at(DEALS, day(30)).values()
    w = win_rate(deals, day(0), day(30))
    assert (w.closed, w.won, w.rate) == (2, 1, 0.5)  # d3 won, d4 lost; d3's first loss not apart
    assert w.median_cycle_days == 12.0  # d3: 20 days, d4: 4 days
    early = win_rate(deals_at(DEALS, day(11)).values(), day(0), day(11))
    assert (early.closed, early.won, early.rate) == (2, 0, 0.0)  # as of day 11 d3 was lost
    assert win_rate(deals, day(25), day(30)).rate is None


CUSTOMERS = [
    # c1: won 1200 EUR at day -100 on 10 seats; grows to 15 seats at day 10
    F("deal_created", -120, account="c1", deal="x1", amount=1200, currency="EUR"),
    F("deal_closed_won", -100, account="c1", deal="x1"),
    F("seats_changed", 10, account="c1", seats=15, previous_seats=10),
    # c2: won 1000 USD at day -50, cancels at day 20 (effective day 25)
    F("deal_created", -60, account="c2", deal="x2", amount=1000, currency="USD"),
    F("deal_closed_won", -50, account="c2", deal="x2"),
    F("subscription_cancelled", 20, account="c2", effective_at=day(25)),
    # c3: won 800 EUR at day -40, cancelled at day -10: not a customer at the start
    F("deal_closed_won", -40, account="c3", deal="x3", amount=800, currency="EUR"),
    F("subscription_cancelled", -10, account="c3"),
    # c4: a new customer inside the window: not in NRR's base
    F("deal_closed_won", 5, account="c4", deal="x4", amount=400, currency="EUR"),
]


def test_churn_nrr_and_cltv_from_cancellations_seats_and_deal_amounts() -> None:
    r = retention(CUSTOMERS, day(0), day(73), gross_margin=0.8)
    assert (r.customers_at_start, r.churned, r.churn_rate) == (2, 1, 0.5)  # c1, c2; c2 left
    assert r.revenue_at_start == {"EUR": Decimal(1200), "USD": Decimal(1000)}
    assert r.revenue_at_end == {"EUR": Decimal(1800)}  # c1 at 15/10 seats; c2 gone
    assert r.nrr == {"EUR": 1.5, "USD": 0.0}
    assert r.customers_at_end == 2  # c1, c4
    # ARPA over a 73-day window (a fifth of a year): (1800 + 400) / 2 / 5 = 220 EUR
    assert r.arpa == {"EUR": Decimal(220)}
    assert r.cltv == {"EUR": Decimal(352)}  # 220 x 0.8 / 0.5


def test_a_churned_account_that_wins_again_is_a_customer_again() -> None:
    back = [
        *CUSTOMERS,
        F("deal_closed_won", 40, account="c2", deal="x5", amount=500, currency="USD"),
    ]
    r = retention(back, day(0), day(73), gross_margin=0.8)
    assert r.churned == 1  # it did churn inside the window
    assert r.revenue_at_end["USD"] == Decimal(1500)  # both won deals, customer again
    assert r.nrr["USD"] == 1.5


def test_no_churn_gives_no_lifetime_value_rather_than_infinity() -> None:
    r = retention(CUSTOMERS, day(0), day(15), gross_margin=0.8)
    assert (r.churned, r.churn_rate, r.cltv) == (0, 0.0, {})


def test_nps_counts_each_contacts_latest_answer_per_stage_and_account() -> None:
    facts = [
        F("nps_submitted", 1, contact="p", account="a1", score=3),
        F("nps_submitted", 2, contact="p", account="a1", score=10),  # p's latest: promoter
        F("nps_submitted", 3, contact="q", account="a1", score=9),
        F("nps_submitted", 4, contact="r", account="a2", score=6),  # detractor
        F("nps_submitted", 5, contact="s", account="a2", score=7),  # passive
        F("nps_submitted", 40, contact="t", account="a2", score=0),  # after the window
    ]
    stages = {"p": "retained", "q": "advocate", "r": "retained", "s": "onboarding"}
    overall, per_stage, per_account = nps(facts, day(0), day(30), lambda c, _at: stages.get(c))
    assert (overall.answers, overall.promoters, overall.detractors) == (4, 2, 1)
    assert overall.score == 25.0  # 50% - 25%
    assert {k: v.score for k, v in per_stage.items()} == {
        "advocate": 100.0,
        "onboarding": 0.0,
        "retained": 0.0,
    }
    assert {k: v.score for k, v in per_account.items()} == {"a1": 100.0, "a2": -50.0}
