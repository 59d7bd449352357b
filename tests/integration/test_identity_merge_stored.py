"""Identity merges through the real handler and database (both backends): an anonymous visitor
who identifies as a known lead is folded into that lead — aliases move, the merged-away row
gives up its identifiers, its recent engagement counts for the survivor, the merge is logged,
and replaying the batches changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.state_codec import contact_view
from services.orchestrator.adapters.tables import contacts, decisions, identity_aliases
from services.orchestrator.handlers import apply_engagement
from tests.probes import StoredRecord

T = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def _event(n: int, kind: str, contact: dict[str, Any], minutes: int) -> StoredRecord:
    value = orjson.dumps({
        "id": f"{contact.get('anonymous_id') or contact.get('email')}-{n}", "type": kind,
        "source": "test", "time": (T + timedelta(minutes=minutes)).isoformat(),
        "contact": contact, "properties": {"path": "/pricing"} if kind == "page_viewed" else {},
    })  # fmt: skip
    return StoredRecord("trellis.engagement.v1", 0, n, value)


async def _apply(engine: AsyncEngine, records: list[StoredRecord]) -> None:
    await apply_engagement(records, engine, default_playbook(), lambda: T + timedelta(hours=1))


async def _snapshot(engine: AsyncEngine, ids: list[str]) -> dict[str, Any]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(contacts).where(contacts.c.id.in_(ids)))).mappings()
        aliases = dict((await conn.execute(select(identity_aliases.c.alias,
                        identity_aliases.c.contact_id))).all())  # fmt: skip
        merges = await conn.scalar(select(func.count()).select_from(decisions).where(
            decisions.c.kind == "identity_merged", decisions.c.contact_id.in_(ids)))  # fmt: skip
    return {"rows": {r["id"]: dict(r) for r in rows}, "aliases": aliases, "merges": merges}


async def test_an_anonymous_visitor_identifying_as_a_known_lead_is_merged_into_the_lead(
    engine: AsyncEngine,
) -> None:
    tag = uuid.uuid4().hex[:8]
    anon, email = f"anon-{tag}", f"ana@{tag}-corp.example"
    visits = [_event(i, "page_viewed", {"anonymous_id": anon}, i) for i in range(1, 4)]
    known = [_event(10, "content_downloaded", {"email": email}, 5)]
    both = [_event(20, "form_submitted", {"anonymous_id": anon, "email": email}, 10)]
    await _apply(engine, visits)
    await _apply(engine, known)
    async with engine.connect() as conn:
        owner = dict((await conn.execute(select(identity_aliases.c.alias,
                      identity_aliases.c.contact_id))).all())  # fmt: skip
    visitor, lead = owner[f"anon:{anon}"], owner[f"email:{email}"]
    assert visitor != lead, "two contacts until one event ties them together"

    await _apply(engine, both)
    after = await _snapshot(engine, [visitor, lead])
    assert after["aliases"][f"anon:{anon}"] == lead == after["aliases"][f"email:{email}"]
    survivor, gone = after["rows"][lead], after["rows"][visitor]
    assert gone["stage"] == "merged" and gone["email"] is None
    assert survivor["email"] == email and survivor["stage"] not in ("merged", None)
    assert after["merges"] == 1
    state = contact_view(survivor["state"])
    pending = {p["event_id"] for p in state["pending"]}
    assert {f"{anon}-{i}" for i in range(1, 4)} <= pending, "the visitor's events join the lead"
    awards = state["current"]["score"]["awards"]
    assert "pricing_page" in awards, "the visitor's pricing views now score for the lead"
    assert state["current"]["engagements"] == 5

    await _apply(engine, [*visits, *known, *both])  # redelivered: nothing changes
    assert await _snapshot(engine, [visitor, lead]) == after
