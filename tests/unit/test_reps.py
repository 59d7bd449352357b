"""Choosing a pool rep (pure): the one who owns the fewest accounts, ties by pool order."""

from __future__ import annotations

from collections import Counter

from services.orchestrator.application.rep_reminders import least_loaded

POOL = ("pool-a@x.example", "pool-b@x.example")


def test_least_loaded_takes_the_emptiest_rep_and_breaks_ties_by_pool_order() -> None:
    assert least_loaded(POOL, Counter()) == "pool-a@x.example"
    assert least_loaded(POOL, Counter({"pool-a@x.example": 1})) == "pool-b@x.example"
    assert least_loaded(POOL, Counter({"pool-a@x.example": 2, "pool-b@x.example": 2})) == POOL[0]
