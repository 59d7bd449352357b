"""What a revenue event keeps (pure row building): exact amounts with their currency, and no
amount a sum could overflow."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.events import ContactRef, EngagementEvent
from services.orchestrator.adapters.revenue_store import row_of


def _deal(amount: object) -> EngagementEvent:
    return EngagementEvent.model_construct(
        id="e1", type="deal_created", source="crm", time=datetime(2026, 1, 1, tzinfo=UTC),
        contact=ContactRef(external_id="p1"),
        properties={"deal_id": "d1", "amount": amount, "currency": "EUR", "stage": "demo"},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("amount", "kept"),
    [(2000.5, "2000.5"), (24000, "24000"), (0.1, "0.1"), (float("inf"), None),
     (float("nan"), None), (1e300, None), (-5, None), (True, None), ("12.30", "12.30")],
)  # fmt: skip
def test_amounts_are_kept_exactly_or_not_at_all(amount: object, kept: str | None) -> None:
    row = row_of(_deal(amount), "c1", "a1")
    assert row["amount"] == kept
    assert (row["currency"], row["deal_id"], row["deal_stage"]) == ("EUR", "d1", "demo")
