"""The prune-old-rows job deletes only what is past its retention, in small batches, on both
backends; contacts and planned touches are never touched; topics get their retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.tables import contacts, decisions, inbox, touches
from services.orchestrator.retention import Retention, prune_once
from services.orchestrator.settings import OrchestratorSettings
from trellis.kafka import topic_configs

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _touch(n: int, status: str, age: timedelta) -> dict[str, Any]:
    return {
        "id": f"t-{status}-{n}", "contact_id": "c-1", "channel": "email", "template_id": "x",
        "stage": "awareness", "status": status, "due_at": NOW - age, "created_at": NOW - age,
    }  # fmt: skip


async def _ids(engine: AsyncEngine, column: Any) -> set[Any]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(column))).scalars())


async def test_only_rows_past_their_retention_go(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(inbox), [
            {"event_id": f"e-{age}", "topic": "t", "partition": 0, "offset": age,
             "received_at": NOW - age * DAY}
            for age in (1, 13, 15, 40, 41, 42, 43, 44)
        ])  # fmt: skip
        await conn.execute(insert(decisions), [
            {"kind": "touch_skipped", "reason": "NO_CONSENT", "facts": {},
             "playbook_version": "v", "decided_at": NOW - age * DAY, "contact_id": f"d-{age}"}
            for age in (1, 89, 91, 200, 300)
        ])  # fmt: skip
        await conn.execute(insert(touches), [
            _touch(1, "dispatched", 200 * DAY), _touch(2, "skipped", 181 * DAY),
            _touch(3, "planned", 400 * DAY), _touch(4, "dispatched", 179 * DAY),
        ])  # fmt: skip
        await conn.execute(insert(contacts), [
            {"id": "c-1", "stage": "awareness", "created_at": NOW - 900 * DAY,
             "updated_at": NOW - 900 * DAY, "traits": {}, "state": {}}
        ])  # fmt: skip
    retention = Retention.of_days(inbox=14, decisions=90, touches=180)
    deleted = await prune_once(engine, retention, NOW, batch=2)  # several batches each
    assert deleted == {"inbox": 6, "decisions": 3, "touches": 2}
    assert await _ids(engine, inbox.c.event_id) == {"e-1", "e-13"}
    assert await _ids(engine, decisions.c.contact_id) == {"d-1", "d-89"}
    assert await _ids(engine, touches.c.id) == {"t-planned-3", "t-dispatched-4"}
    assert await _ids(engine, contacts.c.id) == {"c-1"}  # contacts: never
    assert await prune_once(engine, retention, NOW, batch=2) == {
        "inbox": 0, "decisions": 0, "touches": 0,
    }  # fmt: skip


async def test_zero_days_keeps_a_table_forever(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(decisions), [
            {"kind": "k", "reason": "r", "facts": {}, "playbook_version": "v",
             "decided_at": NOW - 5000 * DAY}
        ])  # fmt: skip
    kept = Retention.of_days(inbox=14, decisions=0, touches=0)
    assert await prune_once(engine, kept, NOW) == {"inbox": 0}
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(decisions))).scalar() == 1


def test_inbox_ids_outlive_the_topic_and_dead_letters_outlive_both() -> None:
    settings = OrchestratorSettings(topic_retention_days=7, retention_inbox_margin_days=3)
    assert settings.retention.inbox == timedelta(days=10)
    assert topic_configs(settings, "trellis.engagement.v1", 2) == {
        "retention.ms": str(7 * 86_400_000), "min.insync.replicas": "2",
    }  # fmt: skip
    assert topic_configs(settings, "trellis.engagement.v1.dlq", None) == {
        "retention.ms": str(30 * 86_400_000)
    }
