"""Funnel maths (pure): a small history computed by hand, and invariants over random histories."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.orchestrator.domain.funnel import Move, funnel_metrics
from services.orchestrator.domain.stages import FUNNEL, Stage

D0 = datetime(2026, 11, 1, tzinfo=UTC)
A, E, M, S = Stage.AWARENESS, Stage.ENGAGED, Stage.MQL, Stage.SQL


def day(n: float) -> datetime:
    return D0 + timedelta(days=n)


HISTORY = [
    Move("a", A, day(-5), 1), Move("a", E, day(1), 2), Move("a", M, day(4), 3),
    Move("a", S, day(8), 4),
    Move("b", A, day(2), 5), Move("b", E, day(6), 6),
    Move("c", A, day(3), 7), Move("c", M, day(5), 8),  # skips engaged
    Move("d", A, day(-10), 9), Move("d", E, day(-2), 10),  # all before the window
    Move("e", A, day(12), 11),  # after it
]  # fmt: skip


def test_a_small_history_gives_the_numbers_computed_by_hand() -> None:
    m = funnel_metrics(HISTORY, day(0), day(10))
    assert {s: n for s, n in m.in_stage.items() if n} == {E: 2, M: 1, S: 1}
    assert {s: n for s, n in m.entered.items() if n} == {A: 2, E: 2, M: 2, S: 1}
    rates = {(c.from_stage, c.to_stage): (c.converted, c.entered, c.rate) for c in m.conversions}
    assert rates[(A, E)] == (2, 2, 1.0)  # c skipped engaged, still converted
    assert rates[(E, M)] == (1, 2, 0.5)
    assert rates[(M, S)] == (1, 2, 0.5)
    assert rates[(S, Stage.OPPORTUNITY)] == (0, 1, 0.0)
    assert rates[(Stage.OPPORTUNITY, Stage.ONBOARDING)] == (0, 0, None)
    assert m.median_days_in_stage[A] == 4.0  # stays of 6, 4 and 2 days ended in the window
    assert m.median_days_in_stage[E] == 3.0
    assert m.median_days_in_stage[M] == 4.0
    assert m.median_days_in_stage[S] is None
    assert m.forward_moves_per_day == 0.5  # 5 forward moves in 10 days
    assert m.median_days_to_reach[E] == 5.0  # a: 6 days, b: 4 days
    assert m.median_days_to_reach[M] == 5.5  # a: 9 days, c: 2 days
    assert m.median_days_to_reach[S] == 13.0
    assert m.p90_days_in_stage[A] == 5.6  # 6, 4, 2: 4 + 0.8 x (6 - 4)
    assert m.p90_days_in_stage[E] == 3.0  # a's one stay of 3 days
    assert m.p90_days_in_stage[S] is None


def test_an_empty_or_inverted_window_is_refused() -> None:
    with pytest.raises(ValueError, match="until"):
        funnel_metrics(HISTORY, day(1), day(1))


def test_no_history_gives_zero_counts_and_no_rates() -> None:
    m = funnel_metrics([], day(0), day(1))
    assert set(m.in_stage.values()) == {0}
    assert all(c.rate is None for c in m.conversions)
    assert m.forward_moves_per_day == 0.0


stages = st.sampled_from(list(Stage))
moves = st.lists(
    st.tuples(st.sampled_from("pqrstu"), stages, st.integers(min_value=-30, max_value=40)),
    max_size=40,
)


def _moves(raw: list[tuple[str, Stage, int]]) -> list[Move]:
    return [Move(s, stage, day(d), i) for i, (s, stage, d) in enumerate(raw)]


@settings(max_examples=200, deadline=None)
@given(moves)
def test_rates_are_shares_and_counts_add_up(raw: list[tuple[str, Stage, int]]) -> None:
    history = _moves(raw)
    m = funnel_metrics(history, day(0), day(20))
    for c in m.conversions:
        assert 0 <= c.converted <= c.entered
        assert c.rate is None or 0.0 <= c.rate <= 1.0
    assert sum(m.in_stage.values()) == len({x.subject for x in history if x.at < day(20)})
    assert sum(m.entered.values()) == sum(1 for x in history if day(0) <= x.at < day(20))
    for value in (*m.median_days_in_stage.values(), *m.median_days_to_reach.values()):
        assert value is None or value >= 0


@settings(max_examples=100, deadline=None)
@given(moves, st.randoms(use_true_random=False))
def test_the_order_moves_arrive_in_does_not_matter(
    raw: list[tuple[str, Stage, int]], rnd: random.Random
) -> None:
    history = _moves(raw)
    shuffled = list(history)
    rnd.shuffle(shuffled)
    assert funnel_metrics(history, day(0), day(20)) == funnel_metrics(shuffled, day(0), day(20))


@settings(max_examples=100, deadline=None)
@given(moves, st.lists(st.tuples(st.sampled_from("pqrstu"), stages), max_size=5))
def test_moves_at_or_after_until_change_nothing(
    raw: list[tuple[str, Stage, int]], later: list[tuple[str, Stage]]
) -> None:
    history = _moves(raw)
    extra = [Move(s, stage, day(20 + i), 1000 + i) for i, (s, stage) in enumerate(later)]
    assert funnel_metrics(history, day(0), day(20)) == funnel_metrics(
        history + extra, day(0), day(20)
    )


def test_the_funnel_order_is_the_lifecycle_order() -> None:
    assert FUNNEL[0] is A and Stage.CHURNED not in FUNNEL
