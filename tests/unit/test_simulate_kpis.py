"""``trellis simulate`` reports the funnel's stage KPIs for each plan (issue 18, item 3): the
same definitions as ``GET /v1/funnel``, so a proposed plan's effect shows before it ships."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.events import EngagementEvent
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.simulate import compare_table, simulate
from trellis.demo_world import build_world

START = datetime(2026, 6, 1, tzinfo=UTC)


def test_each_plan_gets_conversion_days_in_stage_and_its_holdouts_lift() -> None:
    events = [EngagementEvent.model_validate(e) for e in build_world(60, seed=3, start=START)]
    plan = default_nurture()
    held = plan.model_copy(update={"holdout": 0.5})
    current = simulate(events, default_playbook(), nurture=plan, horizon=timedelta(days=30))
    proposed = simulate(events, default_playbook(), nurture=held, horizon=timedelta(days=30))
    rate = current.kpis["conversion awareness -> engaged"]
    assert rate is not None and 0 < rate <= 1
    assert any(k.startswith("median days in ") for k in current.kpis)
    # the revenue KPIs from the deals and NPS answers in the history, as GET /v1/funnel has them
    win = current.kpis["win rate"]
    assert win is not None and 0 < win < 1 and current.kpis["NPS"] is not None
    assert current.kpis["median sales cycle days"] == current.kpis["median days in opportunity"]
    assert not any(k.startswith("lift ") for k in current.kpis)  # nobody held out: no lift
    lifts = [k for k in proposed.kpis if k.startswith("lift ")]
    assert lifts  # every sequence now has a control group to measure against
    rows = {r[0]: r for r in compare_table(current, proposed)}
    assert rows[lifts[0]][1] == "n/a"
    # holding half the people out sends fewer touches
    assert proposed.touches is not None and current.touches is not None
    assert proposed.touches.sent.total() < current.touches.sent.total()
