"""``trellis simulate`` reports handoffs, breaches and escalations on history, per kind, in its
JSON and in the comparison table of two plans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events import EngagementEvent
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.domain.handoffs import TeamConfig, TeamMember
from services.orchestrator.simulate import compare_table, simulate_async

MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TEAMS = {
    "sales": TeamConfig(lead="lee@co.example", members={
        "lee@co.example": TeamMember(capacity=0), "dana@co.example": TeamMember()}),
    "success": TeamConfig(members={"cara@co.example": TeamMember()}),
}  # fmt: skip
PLAN = default_nurture().model_copy(update={"teams": TEAMS})
PLAN = PLAN.model_validate(PLAN.model_dump())


def event(n: int, kind: str, hours: float, firm: str, **props: Any) -> EngagementEvent:
    return EngagementEvent.model_validate({
        "id": f"{firm}-{n}", "type": kind, "source": "test",
        "time": (MONDAY_9 + timedelta(hours=hours)).isoformat(),
        "contact": {"external_id": f"{firm}-ana", "email": f"ana@{firm}.example",
                    "traits": {"role": "manager"}},
        "account": {"external_id": firm, "domain": f"{firm}.example"}, "properties": props,
    })  # fmt: skip


HISTORY = [
    event(1, "demo_requested", 0, "acme"),  # nobody calls: breached, then escalated
    event(1, "demo_requested", 1, "initech"),
    event(2, "meeting_booked", 2, "initech"),  # first contact within the SLA
    event(3, "deal_closed_won", 30, "initech", deal_id="D1", amount=1000),  # to the CSM
]


async def test_simulate_reports_handoffs_breaches_and_escalations_per_kind() -> None:
    sim = await simulate_async(HISTORY, default_playbook(), batch_size=1, nurture=PLAN,
                               horizon=timedelta(days=5))  # fmt: skip
    assert sim.touches is not None
    got = {k: v for k, v in sim.as_dict()["touches"]["handoffs"].items() if v}  # type: ignore[index]
    assert got == {
        "sql_first_contact/made": 2,
        "sql_first_contact/taken": 1,  # initech's meeting
        "sql_first_contact/breached": 1,  # acme's
        "sql_first_contact/escalated": 1,
        "sql_first_contact/open": 1,
        "csm_kickoff/made": 1,
        "csm_kickoff/breached": 1,  # nobody kicked off within 2 business days
        "csm_kickoff/escalated": 1,  # logged, though the team has no lead nor anyone else
        "csm_kickoff/open": 1,
    }
    assert sim.world is not None
    kickoff = next(h for h in sim.world.handoffs.stored.values() if h.kind == "csm_kickoff")
    assert kickoff.escalated_to is None and kickoff.previous_owner == "dana@co.example"
    rows = {r[0]: r[1:] for r in compare_table(sim, sim)}
    assert rows["handoffs sql_first_contact/escalated"] == ["1", "1", ""]


async def test_without_teams_simulate_reports_no_handoffs() -> None:
    sim = await simulate_async(HISTORY, default_playbook(), batch_size=1,
                               nurture=default_nurture(), reps=("pool@co.example",))  # fmt: skip
    assert sim.touches is not None and not sim.touches.handoffs
