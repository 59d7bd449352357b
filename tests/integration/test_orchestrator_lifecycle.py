"""A buying committee's events through the real broker become lifecycle state, exactly once,
and match what the pure domain computes from the same events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import EngagementEvent
from schemas.topics import ENGAGEMENT
from services.orchestrator.adapters.tables import contacts, decisions, inbox, stage_history
from services.orchestrator.settings import OrchestratorSettings
from tests.probes import eventually, produce

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def committee(tag: str) -> list[dict[str, Any]]:
    """A CFO who only downloads once, and a champion who goes all the way to a demo request."""
    account = {"external_id": f"acc-{tag}", "domain": f"{tag}.example", "traits": {
        "industry": "software", "employees": 800, "region": "emea"}}  # fmt: skip
    champion = {
        "external_id": f"u-{tag}-1",
        "email": f"ana@{tag}.example",
        "traits": {"role": "technical", "seniority": "manager", "timezone": "Europe/Berlin"},
    }
    cfo = {"external_id": f"u-{tag}-2", "email": f"cfo@{tag}.example",
           "traits": {"role": "finance", "seniority": "executive"}}  # fmt: skip
    steps: list[tuple[dict[str, Any], str, dict[str, Any]]] = [
        (cfo, "content_downloaded", {"asset": "roi-guide", "content_type": "guide"}),
        (champion, "page_viewed", {"path": "/blog/b2b-nurture"}),
        (champion, "content_downloaded", {"asset": "playbook", "content_type": "ebook"}),
        (champion, "webinar_registered", {"webinar": "w1"}),
        (champion, "webinar_attended", {"webinar": "w1"}),
        (champion, "page_viewed", {"path": "/pricing"}),
        (champion, "content_downloaded", {"asset": "cs-1", "content_type": "case_study"}),
        (champion, "demo_requested", {}),
    ]
    return [
        {
            "id": f"{tag}-{i}",
            "type": kind,
            "source": "test",
            "time": (T0 + timedelta(hours=i)).isoformat(),
            "contact": who,
            "account": account,
            "properties": props,
        }
        for i, (who, kind, props) in enumerate(steps)
    ]


async def _stages(engine: AsyncEngine, tag: str) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(contacts.c.external_id, contacts.c.stage).where(
                contacts.c.external_id.like(f"u-{tag}-%")
            )
        )
        return {k: v for k, v in rows}


async def _applied(engine: AsyncEngine, tag: str) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(func.count()).select_from(inbox).where(inbox.c.event_id.like(f"{tag}-%"))
        )
        return int(found or 0)


async def test_a_committee_reaches_the_stages_a_pure_replay_computes_exactly_once(
    orchestrator: OrchestratorSettings, engine: AsyncEngine
) -> None:
    from services.orchestrator.domain.decide import decide
    from services.orchestrator.domain.engagement import to_engagement

    tag = uuid.uuid4().hex[:8]
    events = committee(tag)
    # out of order and with duplicates, as a real network delivers them
    wire = [orjson.dumps(e) for e in events]
    shuffled = [wire[i] for i in (3, 0, 1, 7, 2, 5, 4, 6)] + wire[:3]
    await produce(
        orchestrator.bootstrap_servers, ENGAGEMENT, [(f"a:acc-{tag}".encode(), w) for w in shuffled]
    )

    playbook = orchestrator.load_playbook()
    parsed = [EngagementEvent.model_validate(e) for e in events]
    expected = decide({}, {}, [to_engagement(e) for e in parsed], playbook, T0 + timedelta(days=1))
    want = {key.removeprefix("ext:"): str(state.stage) for key, state in expected.contacts.items()}
    assert want[f"u-{tag}-1"] == "sql", "the champion asked for a demo"
    assert want[f"u-{tag}-2"] in ("awareness", "engaged") and want[f"u-{tag}-2"] != "mql"

    got = await eventually(lambda: _stages(engine, tag), lambda s: s == want, deadline_s=30)
    assert got == want
    # the stages can be final before the batch holding the last events is (small batches when
    # caught up): wait until every event is in the inbox, then check nothing came twice
    await eventually(lambda: _applied(engine, tag), lambda n: n >= len(events), deadline_s=30)
    async with engine.connect() as conn:
        applied = await conn.scalar(
            select(func.count()).select_from(inbox).where(inbox.c.event_id.like(f"{tag}-%"))
        )
        moves = (
            await conn.execute(
                select(stage_history.c.to_stage, stage_history.c.reason).where(
                    stage_history.c.event_id.like(f"{tag}-%")
                )
            )
        ).all()
        logged = await conn.scalar(
            select(func.count()).select_from(decisions).where(decisions.c.event_id.like(f"{tag}-%"))
        )
    assert applied == len(events)
    assert ("sql", "evidence") in {(m[0], m[1]) for m in moves}
    assert logged is not None and logged >= len(moves) > 0, "every transition is explained"
