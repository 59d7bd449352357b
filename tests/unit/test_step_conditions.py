"""A step's conditions: every given one must hold, and each one that fails says what it needed."""

from __future__ import annotations

import pytest

from services.orchestrator.domain.sequences import StepConditions

ANY = StepConditions()
BUYERS = StepConditions(roles=frozenset({"finance", "executive"}))
PROMOTERS = StepConditions(min_nps=9)
BOTH = StepConditions(roles=frozenset({"finance"}), min_nps=9)


@pytest.mark.parametrize(
    ("conditions", "role", "nps", "unmet"),
    [
        (ANY, None, None, {}),
        (BUYERS, "finance", None, {}),
        (BUYERS, "user", None, {"roles": "needs executive, finance; is user"}),
        (BUYERS, None, None, {"roles": "needs executive, finance; is unknown"}),
        (PROMOTERS, None, 9, {}),
        (PROMOTERS, None, 10, {}),
        (PROMOTERS, "user", 8, {"min_nps": "needs 9 or more; is 8"}),
        (PROMOTERS, None, None, {"min_nps": "needs 9 or more; is no answer"}),
        (BOTH, "finance", 9, {}),
        (BOTH, "user", 9, {"roles": "needs finance; is user"}),
        (BOTH, "finance", 0, {"min_nps": "needs 9 or more; is 0"}),
    ],
)
def test_a_step_is_planned_only_when_every_condition_holds_and_each_unmet_one_says_why(
    conditions: StepConditions, role: str | None, nps: int | None, unmet: dict[str, str]
) -> None:
    assert conditions.unmet(role, nps) == unmet
    assert conditions.hold(role, nps) is (unmet == {})
