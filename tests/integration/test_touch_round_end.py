"""The end of a dispatch round, written as one statement (PostgreSQL ``unnest``, SQLite
executemany): each claimed touch is dispatched, skipped or deferred as said, only the rows the
claimer still holds change, and SQLite, PostgreSQL and the in-memory unit of work (simulate)
end in the same place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.memory_touches import MemoryTouches
from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.adapters.tables import touches
from services.orchestrator.application.unit_of_work import Finished, NewTouch
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.touch_log import Reason

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DUE = NOW - timedelta(minutes=5)
LATER = NOW + timedelta(hours=3, microseconds=250)


def _touches() -> list[NewTouch]:
    return [
        NewTouch(f"t-{i}", f"c-{i}", "acme" if i % 2 else None, TouchChannel.EMAIL, "generic",
                 "engaged", "nurture/1", DUE + timedelta(seconds=i))
        for i in range(6)
    ]  # fmt: skip


def _endings() -> list[Finished]:
    reasons = list(Reason)
    return [
        Finished("t-0", "dispatched", reasons[0]),
        Finished("t-1", "skipped", reasons[1]),
        Finished("t-2", "planned", reasons[2], LATER),  # deferred: back to planned, later
        Finished("t-3", "dispatched", reasons[3]),
        Finished("t-4", "skipped", reasons[4]),  # claimed by "other": not ours to end
        Finished("t-9", "dispatched", reasons[0]),  # no such touch: nothing happens
    ]


async def test_a_round_ends_in_one_write_as_each_touch_says(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork.begin(engine) as uow:
        await uow.touches.add(_touches(), NOW - timedelta(hours=1))
    async with SqlUnitOfWork.begin(engine) as uow:
        mine = await uow.touches.claim_due("me", NOW, 4)  # the oldest four
    async with SqlUnitOfWork.begin(engine) as uow:
        theirs = await uow.touches.claim_due("other", NOW, 1)
    assert [t.id for t in mine] == ["t-0", "t-1", "t-2", "t-3"] and theirs[0].id == "t-4"
    async with SqlUnitOfWork.begin(engine) as uow:
        await uow.touches.finish(_endings(), "me", NOW)
    async with engine.connect() as conn:
        rows = {r["id"]: r for r in (await conn.execute(select(touches))).mappings()}

    ends = {f.touch_id: f for f in _endings()}
    for tid in ("t-0", "t-1", "t-2", "t-3"):
        row, said = rows[tid], ends[tid]
        assert (row["status"], row["reason"], row["claimed_by"]) == (said.status, said.reason, None)
        assert row["dispatched_at"] == (NOW if said.status == "dispatched" else None)
    assert rows["t-2"]["due_at"] == LATER  # deferred to its new time, to the microsecond
    assert rows["t-0"]["due_at"] == DUE and rows["t-1"]["due_at"] == DUE + timedelta(seconds=1)
    other = rows["t-4"]  # still the other claimer's, still planned
    assert (other["status"], other["reason"], other["claimed_by"]) == ("planned", None, "other")
    assert (rows["t-5"]["status"], rows["t-5"]["claimed_by"]) == ("planned", None)
    assert "t-9" not in rows

    memory = MemoryTouches()  # simulate ends the same round the same way
    await memory.add(_touches(), NOW - timedelta(hours=1))
    await memory.claim_due("me", NOW, 4)  # the oldest four
    await memory.claim_due("other", NOW, 1)
    await memory.finish(_endings(), "me", NOW)
    for tid, row in rows.items():
        kept = memory.rows[tid]
        assert (kept.status, kept.reason) == (row["status"], row["reason"])
        assert kept.touch.due_at == row["due_at"]
        assert kept.touch.dispatched_at == row["dispatched_at"]


async def test_an_empty_round_end_writes_nothing(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork.begin(engine) as uow:
        await uow.touches.add(_touches()[:1], NOW - timedelta(hours=1))
        await uow.touches.finish([], "me", NOW)
    async with engine.connect() as conn:
        status = (await conn.execute(select(touches.c.status))).scalar_one()
    assert status == "planned"


async def test_delivery_statuses_land_in_one_write(engine: AsyncEngine) -> None:
    """A batch of outcomes sets each touch's reported status; other touches keep theirs, an
    unknown id changes nothing, and simulate (the in-memory store) agrees."""
    said = {"t-0": "delivered", "t-3": "bounced", "t-5": "complained", "t-9": "delivered"}
    async with SqlUnitOfWork.begin(engine) as uow:
        await uow.touches.add(_touches(), NOW - timedelta(hours=1))
        await uow.touches.set_statuses(said)
        await uow.touches.set_statuses({})
    async with engine.connect() as conn:
        stored = dict((await conn.execute(select(touches.c.id, touches.c.status))).all())
    assert stored == {f"t-{i}": said.get(f"t-{i}", "planned") for i in range(6)}

    memory = MemoryTouches()
    await memory.add(_touches(), NOW - timedelta(hours=1))
    await memory.set_statuses(said)
    assert {tid: row.status for tid, row in memory.rows.items()} == stored
