"""The scheduler's claim takes rep reminders before marketing: a hand-raiser's reminder due now is
claimed in the first round even behind more due marketing than one round holds, on SQLite,
PostgreSQL and in the in-memory unit of work (simulate), which claim the same touches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.memory_touches import MemoryTouches
from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.application.unit_of_work import NewTouch
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.views import StoredTouch

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ROUND = 50


def _due() -> list[NewTouch]:
    """120 marketing emails due over the last two hours, then two reminders due just now."""
    marketing = [
        NewTouch(f"m-{i:03d}", f"c-{i}", None, TouchChannel.EMAIL, "generic", "engaged",
                 "nurture/1", NOW - timedelta(hours=2) + timedelta(seconds=i))
        for i in range(120)
    ]  # fmt: skip
    reminders = [
        NewTouch(f"r-{i}", f"lead-{i}", None, TouchChannel.REP_CALL_REMINDER, "rep/call",
                 "sql", "reminder/demo", NOW - timedelta(seconds=1 - i))
        for i in range(2)
    ]  # fmt: skip
    return [*marketing, *reminders]


def _expected_first_round(claimed: list[StoredTouch]) -> None:
    ids = [t.id for t in claimed]
    assert len(ids) == ROUND and {"r-0", "r-1"} <= set(ids)
    assert [i for i in ids if i.startswith("m-")] == [f"m-{i:03d}" for i in range(ROUND - 2)]
    assert claimed == sorted(claimed, key=lambda t: (t.due_at, t.id))  # decided oldest first


async def test_a_reminder_is_claimed_before_earlier_due_marketing(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork.begin(engine) as uow:
        await uow.touches.add(_due(), NOW - timedelta(hours=3))
    async with SqlUnitOfWork.begin(engine) as uow:
        first = await uow.touches.claim_due("me", NOW, ROUND)
    async with SqlUnitOfWork.begin(engine) as uow:
        rest = await uow.touches.claim_due("other", NOW, 500)
    _expected_first_round(first)
    assert {t.id for t in rest} == {f"m-{i:03d}" for i in range(ROUND - 2, 120)}

    memory = MemoryTouches()
    await memory.add(_due(), NOW - timedelta(hours=3))
    assert await memory.claim_due("me", NOW, ROUND) == first  # live == simulate
