"""Engagement events through the real broker are recorded exactly once, on both databases."""

from __future__ import annotations

import uuid

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.topics import ENGAGEMENT, dead_letter
from services.orchestrator.adapters.tables import inbox
from services.orchestrator.settings import OrchestratorSettings
from tests.probes import eventually, produce, read_topic


def event(event_id: str, account: str = "acc-1") -> bytes:
    return orjson.dumps(
        {
            "id": event_id,
            "type": "page_viewed",
            "source": "test",
            "time": "2026-11-02T10:00:00Z",
            "contact": {"external_id": f"c-{event_id}"},
            "account": {"external_id": account},
        }
    )


async def _inbox_ids(engine: AsyncEngine, ids: list[str]) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(inbox.c.event_id).where(inbox.c.event_id.in_(ids)))
        return sorted(rows.scalars())


async def test_each_event_is_recorded_once_even_when_delivered_twice(
    orchestrator: OrchestratorSettings, engine: AsyncEngine
) -> None:
    ids = [f"e-{uuid.uuid4().hex}" for _ in range(20)]
    items = [(b"a:acc-1", event(i)) for i in ids]
    await produce(orchestrator.bootstrap_servers, ENGAGEMENT, items + items[:7])  # 7 replayed
    await eventually(lambda: _inbox_ids(engine, ids), lambda got: got == sorted(ids))
    async with engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(inbox).where(inbox.c.event_id.in_(ids))
        )
    assert count == 20


async def test_malformed_events_go_to_the_dead_letter_topic_and_the_stream_goes_on(
    orchestrator: OrchestratorSettings, engine: AsyncEngine
) -> None:
    good = f"e-{uuid.uuid4().hex}"
    marker = uuid.uuid4().hex.encode()
    poison = [
        (b"x", b"{not json " + marker),
        (b"x", orjson.dumps({"id": marker.decode(), "type": "page_viewed"})),  # no contact/time
    ]
    await produce(orchestrator.bootstrap_servers, ENGAGEMENT, [*poison, (b"a:acc-1", event(good))])
    await eventually(lambda: _inbox_ids(engine, [good]), lambda got: got == [good])
    dlq = await read_topic(
        orchestrator.bootstrap_servers,
        dead_letter(ENGAGEMENT),
        lambda recs: sum(marker in (r.value or b"") for r in recs) >= 2,
    )
    mine = [r for r in dlq if marker in (r.value or b"")]
    assert len(mine) == 2
    errors = [dict(r.headers)["trellis-error"].decode() for r in mine]
    assert any("schema" in e for e in errors)
