"""Proof of lift (pure): treated vs held-out conversion per sequence, hand-computed; the 95%
interval; not enough data and no held-out contacts said, not figured."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.domain.funnel import Move
from services.orchestrator.domain.holdout import held_out
from services.orchestrator.domain.lift import (
    Arm,
    Exposure,
    Member,
    difference,
    exposures_of,
    lift_by_sequence,
)
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.stages import Stage

D0 = datetime(2026, 3, 1, tzinfo=UTC)
E, M, S = Stage.ENGAGED, Stage.MQL, Stage.SQL


def day(n: float) -> datetime:
    return D0 + timedelta(days=n)


def test_the_difference_and_its_interval_are_the_two_proportion_formula() -> None:
    d = difference(Arm(100, 40), Arm(50, 10), min_sample=30)
    se = math.sqrt(0.4 * 0.6 / 100 + 0.2 * 0.8 / 50)
    assert d.value == 0.2
    assert d.low == round(0.2 - 1.959964 * se, 4) == 0.0533  # se = 0.0748
    assert d.high == round(0.2 + 1.959964 * se, 4) == 0.3467
    assert d.lifts and d.note == ""


def test_an_interval_across_zero_does_not_claim_a_lift() -> None:
    d = difference(Arm(40, 12), Arm(40, 10), min_sample=30)
    assert d.value == 0.05 and d.low is not None and d.low < 0 and not d.lifts


@pytest.mark.parametrize(
    ("treated", "held", "note"),
    [(Arm(100, 50), Arm(0, 0), "no held-out contacts"),
     (Arm(100, 50), Arm(29, 5), "not enough data: 100 treated, 29 held out (needs 30 each)"),
     (Arm(12, 5), Arm(40, 5), "not enough data: 12 treated, 40 held out (needs 30 each)")],
)  # fmt: skip
def test_below_the_minimum_sample_it_says_so_instead_of_a_number(
    treated: Arm, held: Arm, note: str
) -> None:
    d = difference(treated, held, min_sample=30)
    assert (d.value, d.low, d.high, d.note) == (None, None, None, note)
    assert (d.treated, d.held_out) == (treated, held)


def test_conversion_counts_a_later_stage_reached_within_the_window_of_the_exposure() -> None:
    exposures = [
        Exposure("mql-proof", M, "t1", day(1), False),
        Exposure("mql-proof", M, "t1", day(3), False),  # a later step: first exposure counts
        Exposure("mql-proof", M, "t2", day(2), False),
        Exposure("mql-proof", M, "t3", day(2), False),
        Exposure("mql-proof", M, "h1", day(1), True),
        Exposure("mql-proof", M, "h2", day(2), True),
        Exposure("mql-proof", M, "early", day(-5), False),  # before the window: not in the cohort
        Exposure("engaged-business", E, "t1", day(0), False),  # no held-out contacts
    ]
    moves = [
        Move("t1", S, day(5)),  # within 10 days
        Move("t2", Stage.OPPORTUNITY, day(8)),  # skipped sql: still on
        Move("t3", S, day(20)),  # too late for a 10-day window
        Move("h1", S, day(4)),
        Move("t1", M, day(0)),
    ]
    lifts = lift_by_sequence(exposures, moves, day(0), day(30), timedelta(days=10), goal=S,
                             min_sample=2)  # fmt: skip
    by_id = {x.sequence: x for x in lifts}
    mql = by_id["mql-proof"]
    assert (mql.stage, mql.next_stage, mql.goal) == (M, S, S)
    assert (mql.to_next.treated, mql.to_next.held_out) == (Arm(3, 2), Arm(2, 1))
    assert mql.to_next.value == round(2 / 3 - 1 / 2, 4)
    assert mql.to_goal is not None and mql.to_goal.treated == Arm(3, 2)
    eng = by_id["engaged-business"]
    assert eng.to_next.treated == Arm(1, 1)  # t1 reached mql then sql... from engaged at day 0
    assert eng.to_next.note == "no held-out contacts"
    assert eng.to_goal is not None and eng.to_goal.treated == Arm(1, 1)


def test_the_goal_stage_is_ignored_when_it_is_not_after_the_sequences_stage() -> None:
    exposures = [Exposure("mql-proof", M, "t1", day(1), False)]
    (only,) = lift_by_sequence(exposures, [], day(0), day(9), timedelta(days=5), goal=E)
    assert only.goal is None and only.to_goal is None
    assert only.to_next.treated == Arm(1, 0)


def test_exposures_are_stage_entries_for_the_sequence_serving_the_role_in_the_hashed_arm() -> None:
    data = default_nurture().model_dump(mode="json")
    for q in data["sequences"]:
        q["holdout"] = "50%" if q["id"] == "mql-proof" else None
    plan = NurtureConfig.model_validate(data)
    people = {f"c{i}": Member("acme", "manager") for i in range(60)}
    people["fin"] = Member("acme", "finance")
    moves = [Move(c, M, day(1)) for c in people] + [Move("stranger", M, day(1))]
    exposed = {e.contact: e for e in exposures_of(moves, people, plan)}
    assert "stranger" not in exposed  # not a known contact
    assert exposed["fin"].sequence == "mql-proof-finance" and not exposed["fin"].held_out
    arms = {e.held_out for c, e in exposed.items() if c != "fin"}
    assert arms == {True, False}
    assert all(e.held_out == held_out(0.5, c, "mql-proof") for c, e in exposed.items()
               if e.sequence == "mql-proof")  # fmt: skip
    by_account = NurtureConfig.model_validate(data | {"holdout_by": "account"})
    together = {e.held_out for e in exposures_of(moves, people, by_account)
                if e.sequence == "mql-proof"}  # fmt: skip
    assert together == {held_out(0.5, "acme", "mql-proof")}
