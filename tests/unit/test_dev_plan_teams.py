"""`trellis dev`'s plan has the demo's sales and success teams with leads and SLAs of minutes,
and the demo world names a CSM on every other closed-won deal (the rest: round-robin)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from console.dev_plan import write_dev_plan
from services.orchestrator.adapters.nurture_file import load_nurture
from services.orchestrator.application.handoffs import CHANNEL
from services.orchestrator.domain.handoffs import HandoffKind, deadline
from trellis.demo_world import DEMO_CSMS, DEMO_REPS, build_world

SATURDAY_3AM = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def test_the_dev_plan_has_a_sales_and_a_success_team_with_minute_slas(tmp_path: Path) -> None:
    plan = load_nurture(write_dev_plan(tmp_path))
    assert plan.teams["sales"].lead == DEMO_REPS[0].email
    assert set(plan.teams["sales"].members) == {r.email for r in DEMO_REPS}
    assert plan.teams["success"].lead == DEMO_CSMS[0].email
    assert set(plan.teams["success"].members) == {c.email for c in DEMO_CSMS}
    assert plan.rep_zone(DEMO_CSMS[1].email) is not None  # members are reps too
    window, zone = plan.window_for(CHANNEL), plan.rep_zone(DEMO_CSMS[0].email)
    assert zone is not None
    # even at 3 am on a Saturday the demo's clock runs: a kickoff is due 6 minutes later
    due, escalate = deadline(SATURDAY_3AM, plan.handoffs[HandoffKind.CSM_KICKOFF], window, zone)
    assert (due - SATURDAY_3AM, escalate - due) == (timedelta(minutes=6), timedelta(minutes=3))
    assert plan.handoffs[HandoffKind.SQL_FIRST_CONTACT].completed_by == (
        "meeting_booked", "call_logged",
    )  # fmt: skip


def test_every_other_closed_won_deal_names_its_regions_csm() -> None:
    world = build_world(40, seed=1, start=datetime(2026, 6, 1, tzinfo=UTC))
    won = [e for e in world if e["type"] == "deal_closed_won"]
    named = [e for e in won if "csm_email" in e["properties"]]
    assert won and 0 < len(named) < len(won)
    for e in named:
        region = e["account"]["traits"]["region"]
        assert e["properties"]["csm_email"] == next(
            c.email for c in DEMO_CSMS if region in c.regions
        )
