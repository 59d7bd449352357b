"""The dashboard's SVG charts and stage flow are pure: shapes, escaping, empty data."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from services.orchestrator.dashboard.flow import instants, stage_flow
from services.orchestrator.dashboard.svg import Bar, FlowSeries, flow_chart, funnel_chart
from services.orchestrator.domain.funnel import Move
from services.orchestrator.domain.stages import Stage

T0 = datetime(2026, 11, 1, tzinfo=UTC)
NS = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    """Well-formed XML or the test fails: nothing a label says can break the markup."""
    return ET.fromstring(svg)


def test_the_funnel_has_one_bar_per_stage_scaled_to_the_largest() -> None:
    bars = [Bar("awareness", 100), Bar("engaged", 50), Bar("mql", 0)]
    root = _parse(funnel_chart(bars, "Contacts"))
    rects = root.findall(f".//{NS}rect")
    assert [r.get("data-stage") for r in rects] == ["awareness", "engaged", "mql"]
    widths = [float(r.get("width") or 0) for r in rects]
    assert widths[0] == pytest.approx(2 * widths[1]) and widths[2] == 0


def test_funnel_labels_notes_and_titles_are_escaped() -> None:
    evil = '<script>alert("x")</script>&'
    svg = funnel_chart([Bar(evil, 3, note=evil)], title=evil)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg and "&amp;" in svg
    root = _parse(svg)
    assert root.get("aria-label") == evil  # escaped in the markup, intact for the reader
    assert root.find(f"{NS}title") is not None


@pytest.mark.parametrize(
    ("href", "kept"),
    [
        ("/ui/contacts?stage=mql&x=1", True),
        ("javascript:alert(1)", False),
        ("//evil.example/x", False),
        ("https://evil.example/", False),
        (None, False),
    ],
)
def test_only_site_relative_links_survive(href: str | None, kept: bool) -> None:
    root = _parse(funnel_chart([Bar("mql", 1, href=href)], "t"))
    links = root.findall(f".//{NS}a")
    assert len(links) == (1 if kept else 0)
    if kept:
        assert links[0].get("href") == href


def test_an_empty_funnel_says_so() -> None:
    svg = funnel_chart([], "Contacts")
    assert "No stages to show" in svg and "chart-empty" in svg
    _parse(svg)


def test_all_zero_bars_still_draw_every_stage() -> None:
    root = _parse(funnel_chart([Bar(s.value, 0) for s in Stage], "t"))
    assert len(root.findall(f".//{NS}rect")) == len(Stage)


def test_muted_bars_are_grey_and_marked() -> None:
    svg = funnel_chart([Bar("churned", 2, muted=True)], "t")
    assert 'class="row muted"' in svg and 'fill="#888888"' in svg


def _series(
    counts: list[list[int]], stages: tuple[str, ...] = ("awareness", "engaged")
) -> FlowSeries:
    times = tuple(T0 + timedelta(days=i) for i in range(len(counts)))
    return FlowSeries(stages, times, tuple(tuple(c) for c in counts))


def test_the_flow_draws_a_band_per_stage_that_ever_had_someone() -> None:
    root = _parse(flow_chart(_series([[2, 0], [1, 1], [0, 2]]), "Flow"))
    bands = root.findall(f".//{NS}polygon")
    assert sorted(b.get("data-stage") or "" for b in bands) == ["awareness", "engaged"]
    for band in bands:
        points = re.findall(r"[\d.]+,[\d.]+", band.get("points") or "")
        assert len(points) == 6  # upper and lower edge over three instants


def test_a_stage_nobody_reached_has_no_band_but_keeps_its_legend() -> None:
    svg = flow_chart(_series([[1, 0], [1, 0]]), "Flow")
    root = _parse(svg)
    assert [b.get("data-stage") for b in root.findall(f".//{NS}polygon")] == ["awareness"]
    assert ">engaged</text>" in svg


@pytest.mark.parametrize(
    "series",
    [
        _series([]),
        _series([[0, 0], [0, 0]]),
        _series([[3, 1]]),  # a single instant is not a flow
        FlowSeries((), (T0, T0 + timedelta(days=1)), ((), ())),
    ],
)
def test_no_flow_renders_a_message_not_an_error(series: FlowSeries) -> None:
    svg = flow_chart(series, "Flow")
    assert "No stage changes in this range" in svg
    _parse(svg)


def test_flow_stage_names_are_escaped() -> None:
    svg = flow_chart(_series([[1, 1], [1, 1]], ("<b>a</b>", 'q"uote')), "<t>")
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "&quot;" in svg
    _parse(svg)


def test_stage_flow_counts_each_subject_in_its_latest_stage_at_each_instant() -> None:
    moves = [
        Move("ana", Stage.AWARENESS, T0 - timedelta(days=5)),  # before the window: counted
        Move("ana", Stage.ENGAGED, T0 + timedelta(days=1, hours=1)),
        Move("ben", Stage.AWARENESS, T0 + timedelta(days=2)),
        Move("cy", Stage.AWARENESS, T0 + timedelta(days=9)),  # after until: never counted
    ]
    flow = stage_flow(moves, T0, T0 + timedelta(days=2), points=3)
    awareness, engaged = flow.stages.index("awareness"), flow.stages.index("engaged")
    assert [row[awareness] for row in flow.counts] == [1, 1, 1]
    assert [row[engaged] for row in flow.counts] == [0, 0, 1]
    assert [sum(row) for row in flow.counts] == [1, 1, 2]


def test_same_instant_moves_follow_their_sequence() -> None:
    moves = [Move("ana", Stage.ENGAGED, T0, seq=2), Move("ana", Stage.AWARENESS, T0, seq=1)]
    flow = stage_flow(moves, T0, T0 + timedelta(days=1), points=2)
    assert flow.counts[0][flow.stages.index("engaged")] == 1


def test_no_moves_is_an_empty_flow() -> None:
    flow = stage_flow([], T0, T0 + timedelta(days=1))
    assert len(flow.times) == 31 and not any(any(r) for r in flow.counts)


def test_instants_need_a_forward_range() -> None:
    with pytest.raises(ValueError):
        instants(T0, T0, 3)
    assert instants(T0, T0 + timedelta(days=2), 3)[1] == T0 + timedelta(days=1)
