"""The funnel page's KPI table and lift chart (pure): currencies side by side, never added; a
lifting sequence drawn green with its interval; not enough data said in words; text escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.orchestrator.dashboard.funnel_view import kpi_rows, lift_rows, money_text
from services.orchestrator.dashboard.svg import LiftRow, lift_chart
from services.orchestrator.domain.funnel import funnel_metrics
from services.orchestrator.ops.kpi_queries import funnel_dict, revenue_kpis

AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_money_lists_each_currency_and_never_a_total() -> None:
    assert money_text({"EUR": 1000.0, "USD": 2000.5}) == "EUR 1,000 · USD 2,000.50"
    assert money_text({}) == "—"


def test_the_kpi_table_has_a_row_for_all_and_one_per_segment() -> None:
    empty = funnel_dict(funnel_metrics([], AT, AT + timedelta(days=1)))
    revenue = revenue_kpis([], [], AT, AT + timedelta(days=1), 0.75)
    seg = {"value": "fintech", "contacts": empty, "accounts": empty, "revenue": revenue}
    metrics = {"contacts": empty, "accounts": empty, "revenue": revenue,
               "segments": {"by": "industry", "items": [seg]}}  # fmt: skip
    rows = kpi_rows(metrics)
    assert [r["label"] for r in rows] == ["all", "fintech"]
    assert rows[0]["win_rate"] == "—" and rows[0]["pipeline"] == "—"
    assert rows[0]["churn"] == "— (0/0)" and rows[0]["contacts_entered"] == "0"


def _lift(sequence: str, diff: float | None, ci: list[float] | None, note: str = "") -> Any:
    arm = {"people": 40, "converted": 30, "rate": 0.75}
    d = {"treated": arm, "held_out": arm, "difference": diff, "ci95": ci, "lifts": False,
         "note": note}  # fmt: skip
    return {"sequence": sequence, "stage": "mql", "next_stage": "sql", "window_days": 30.0,
            "to_next": d, "goal": None, "to_goal": None}  # fmt: skip


def test_the_lift_chart_marks_a_lift_green_a_flat_one_grey_and_says_when_data_is_short() -> None:
    metrics = {"lift": [
        _lift("mql-proof", 0.5, [0.31, 0.69]),
        _lift("engaged-business", 0.0, [-0.22, 0.22]),
        _lift("awareness-education", None, None, "not enough data: 3 treated, 1 held out"),
    ]}  # fmt: skip
    rows = lift_rows(metrics)
    assert rows[0] == LiftRow("mql-proof (mql → sql)", "75% of 40", "75% of 40", 0.5, 0.31, 0.69)
    svg = lift_chart(rows, "Lift")
    assert '<g class="sequence lifts" data-sequence="mql-proof (mql → sql)">' in svg
    assert '<g class="sequence unclear" data-sequence="engaged-business (mql → sql)">' in svg
    assert "+50 pts (95% CI +31 to +69)" in svg
    assert '<g class="sequence no-data"' in svg and "not enough data: 3 treated" in svg
    assert "<script" not in svg


def test_labels_are_escaped_in_the_lift_chart() -> None:
    svg = lift_chart([LiftRow("<b>x</b>", "", "", None, None, None, "a & b")], "t")
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "a &amp; b" in svg
    assert "No sequence was measured" in lift_chart([], "t")
