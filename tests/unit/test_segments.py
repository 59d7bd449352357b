"""Segments (pure): where each subject falls, and size bands at their edges."""

from __future__ import annotations

import pytest

from services.orchestrator.domain.segments import Segment, segment_value, size_band


@pytest.mark.parametrize(
    ("employees", "band"),
    [(0, "1-49"), (49, "1-49"), (50, "50-199"), (199, "50-199"), (200, "200-999"),
     (999, "200-999"), (1000, "1000-4999"), (4999, "1000-4999"), (5000, "5000+"),
     (None, "unknown"), ("40", "unknown"), (True, "unknown"), (-1, "unknown")],
)  # fmt: skip
def test_size_bands_have_exact_edges(employees: object, band: str) -> None:
    assert size_band(employees) == band


def test_segments_read_the_account_then_the_contact_then_the_owner() -> None:
    firm = {"industry": "fintech", "region": "emea", "employees": 400, "source": "event"}
    assert segment_value(Segment.INDUSTRY, firm) == "fintech"
    assert segment_value(Segment.REGION, firm) == "emea"
    assert segment_value(Segment.SIZE_BAND, firm) == "200-999"
    assert segment_value(Segment.SOURCE, firm, {"source": "webinar"}) == "webinar"
    assert segment_value(Segment.SOURCE, firm, {}) == "event"
    assert segment_value(Segment.OWNER_REP, firm, {}, "ana@x.example") == "ana@x.example"
    assert segment_value(Segment.OWNER_REP, firm) == "unknown"
    assert segment_value(Segment.INDUSTRY, None) == "unknown"
