"""The value watches' SQL repository on SQLite and PostgreSQL: a watch saved reads back equal,
saving again updates it, the clock's ``due`` returns only the watches whose time has come
(earliest first, at most ``limit``), a merged-away one is retired, and the time-to-first-value
read gives each won account's days from its columns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.value_watch_store import (
    SqlValueWatches,
    times_to_value,
    value_watches,
)
from services.orchestrator.domain.churn_risk import check
from services.orchestrator.domain.time_to_value import TimeToValue
from services.orchestrator.domain.value_watch import ValueWatch, ValueWatchRules, observe

WON = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
RULES = ValueWatchRules()


def _watch(account: str, *events: tuple[str, float]) -> ValueWatch:
    w = ValueWatch(account)
    for i, (kind, day) in enumerate(events):
        props = {"score": 3, "seats": 7, "ticket_id": "t"}
        w = observe(w, kind, props, WON + timedelta(days=day), f"e{i}", "c1", RULES)
    return w


async def test_watches_round_trip_come_due_in_order_and_give_time_to_value(
    engine: AsyncEngine,
) -> None:
    tag = uuid.uuid4().hex[:8]
    a, b, c = (f"{tag}-{n}" for n in "abc")
    full = _watch(a, ("deal_closed_won", 0), ("product_activated", 3.5), ("usage_milestone", 10),
                  ("seats_changed", 1), ("nps_submitted", 2), ("support_ticket_opened", 4),
                  *[("feature_used", d / 2) for d in range(30)])  # fmt: skip
    full = check(full, WON + timedelta(days=20), RULES).watch  # an open episode (detractor)
    late = _watch(b, ("deal_closed_won", 1))
    never = _watch(c, ("product_activated", 1))
    async with engine.begin() as conn:
        repo = SqlValueWatches(conn)
        await repo.save([(full, WON + timedelta(days=30)), (late, WON + timedelta(days=15)),
                         (never, None)], WON)  # fmt: skip
    async with engine.begin() as conn:
        repo = SqlValueWatches(conn)
        assert await repo.load([a, b, c, f"{tag}-none"]) == {a: full, b: late, c: never}
        assert await repo.due(WON + timedelta(days=14), 10) == []
        due = [w.account_id for w in await repo.due(WON + timedelta(days=40), 10)]
        assert [x for x in due if x.startswith(tag)] == [b, a]  # earliest first
        assert len(await repo.due(WON + timedelta(days=40), 1)) == 1
        activated = observe(late, "product_activated", {}, WON + timedelta(days=5), "e9", "c",
                            RULES)  # fmt: skip
        await repo.save([(activated, None)], WON + timedelta(days=5))  # an update
        assert (await repo.load([b]))[b] == activated
        assert b not in [w.account_id for w in await repo.due(WON + timedelta(days=40), 500)]
        got = {v.account_id: v for v in await times_to_value(conn) if v.account_id.startswith(tag)}
        assert got == {
            a: TimeToValue(a, WON, 3.5, 10.0),
            b: TimeToValue(b, WON + timedelta(days=1), 4.0, None),
        }
        await repo.retire([a])  # merged away
        assert set(await repo.load([a, b, c])) == {b, c}
        await conn.execute(delete(value_watches).where(value_watches.c.account_id.in_([b, c])))
