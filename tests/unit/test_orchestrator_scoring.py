"""Scoring: points, per-rule caps per rolling window, half-life decay, negatives; ICP fit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.domain.playbook import Fit, FitCriterion, Scoring, ScoringRule
from services.orchestrator.domain.scoring import ScoreState, apply_points, fit_score
from tests.unit.orchestrator_events import T0

DOWNLOAD = ScoringRule.model_validate(
    {"name": "download", "event": "content_downloaded", "points": 10, "cap": 20, "window_days": 30}
)
UNSUBSCRIBE = ScoringRule.model_validate(
    {"name": "consent_withdrawn", "event": "consent_withdrawn", "points": -30}
)
SCORING = Scoring(half_life_days=10, max_score=100, rules=(DOWNLOAD, UNSUBSCRIBE))


def score_after(*steps: tuple[ScoringRule, float], at_day: float | None = None) -> float:
    state = ScoreState()
    for rule, day in steps:
        state, _ = apply_points(state, rule, T0 + timedelta(days=day), SCORING)
    last = max(day for _, day in steps)
    return state.at(T0 + timedelta(days=last if at_day is None else at_day), SCORING.half_life_days)


def test_ten_downloads_in_a_window_score_only_the_cap() -> None:
    # only the first two (day 0 and day 0.1) score; the score is read at day 0.9
    expected = 10 * 0.5 ** (0.9 / 10) + 10 * 0.5 ** (0.8 / 10)
    assert score_after(*[(DOWNLOAD, d / 10) for d in range(10)]) == pytest.approx(expected)


def test_the_cap_applies_again_once_the_window_has_passed() -> None:
    # two capped downloads, then 31 days later two more: 20 decayed by ~3 half-lives + 20
    expected = 20 * 0.5 ** (31 / 10) + 20
    assert score_after((DOWNLOAD, 0), (DOWNLOAD, 0), (DOWNLOAD, 31), (DOWNLOAD, 31)) == (
        pytest.approx(expected)
    )


def test_a_score_halves_after_one_half_life() -> None:
    assert score_after((DOWNLOAD, 0), at_day=10) == pytest.approx(5)


def test_a_negative_signal_lowers_the_score_but_never_below_zero() -> None:
    assert score_after((DOWNLOAD, 0), (DOWNLOAD, 0), (UNSUBSCRIBE, 0)) == 0
    assert score_after((UNSUBSCRIBE, 0)) == 0


def test_the_total_score_never_exceeds_max_score() -> None:
    big = ScoringRule.model_validate({"name": "big", "event": "demo_requested", "points": 80})
    state = ScoreState()
    for day in range(3):
        state, _ = apply_points(state, big, T0 + timedelta(days=day), SCORING)
    assert state.value == SCORING.max_score


ICP = Fit(
    criteria=(
        FitCriterion.model_validate(
            {"name": "industry", "trait": "account.industry", "in": ["SaaS"], "weight": 0.5}
        ),
        FitCriterion.model_validate(
            {"name": "size", "trait": "account.employees", "min": 50, "max": 500, "weight": 0.3}
        ),
        FitCriterion.model_validate(
            {"name": "role", "trait": "contact.role", "in": ["finance"], "weight": 0.2}
        ),
    )
)


@pytest.mark.parametrize(
    ("contact", "account", "fit"),
    [
        ({"role": "finance"}, {"industry": "saas", "employees": 120}, 1.0),
        ({"role": "Finance"}, {"industry": "SaaS", "employees": 501}, 0.7),
        ({}, {"industry": "retail", "employees": 50}, 0.3),
        ({"role": "user"}, {"employees": "many"}, 0.0),
        ({}, {"employees": True}, 0.0),
    ],
    ids=[
        "a_full_icp_match_fits_completely",
        "case_does_not_matter_and_size_bounds_are_inclusive",
        "only_the_size_matches",
        "a_non_numeric_size_does_not_match",
        "a_boolean_is_not_a_size",
    ],
)
def test_fit_is_the_share_of_icp_weight_met(
    contact: dict[str, Any], account: dict[str, Any], fit: float
) -> None:
    assert fit_score(ICP, contact, account) == pytest.approx(fit)


def test_an_empty_icp_fits_everyone() -> None:
    assert fit_score(Fit(), {}, {}) == 1.0


def test_the_default_playbook_puts_narrow_rules_before_broad_ones() -> None:
    scoring = default_playbook().scoring
    pricing = scoring.rule_for("page_viewed", {"path": "/pricing", "is_pricing": True})
    blog = scoring.rule_for("page_viewed", {"path": "/blog", "is_pricing": False})
    assert (pricing.name if pricing else None, blog.name if blog else None) == (
        "pricing_page",
        "page_view",
    )
    assert scoring.rule_for("crm_owner_changed", {}) is None
