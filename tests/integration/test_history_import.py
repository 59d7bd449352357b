"""Bring your history (issue 22, item 1), through ``trellis import``'s reader and publisher, the
real broker and the orchestrator on SQLite and PostgreSQL: two years of a buying committee's
history imported after live traffic started ends with the same contact and account stages,
scores and stage histories as the same history imported first, and nothing is planned for the
past (the history holds a demo request, which live would answer with a rep reminder at once)."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from console.history_import import publish_history
from console.history_read import in_order, lines_of, read_history
from schemas.events import EngagementEvent
from schemas.topics import ENGAGEMENT
from services.orchestrator.adapters.tables import (
    accounts,
    contacts,
    decisions,
    inbox,
    reminders,
    stage_history,
    touches,
)
from services.orchestrator.settings import OrchestratorSettings
from tests.probes import eventually
from trellis.kafka import encode, make_producer

NOW = datetime.now(UTC).replace(microsecond=0)
PEOPLE = [("ana", "manager"), ("bo", "finance")]
HISTORY = [  # (person, days ago, type, properties)
    ("ana", 700, "page_viewed", {"path": "/blog/roi"}),
    ("ana", 650, "content_downloaded", {"content_id": "guide-1"}),
    ("bo", 600, "page_viewed", {"path": "/pricing", "is_pricing": True}),
    ("ana", 420, "webinar_attended", {"webinar_id": "w-1"}),
    ("ana", 400, "page_viewed", {"path": "/pricing", "is_pricing": True}),
    ("bo", 380, "content_downloaded", {"content_id": "cs-1", "content_type": "case_study"}),
    ("ana", 300, "demo_requested", {}),
    ("bo", 90, "webinar_attended", {"webinar_id": "w-2"}),
    ("bo", 45, "page_viewed", {"path": "/docs"}),
]
LIVE = [
    ("ana", 2, "page_viewed", {"path": "/changelog"}),
    ("bo", 1, "email_clicked", {"url": "https://x.example/a"}),
]


def _lines(tag: str, rows: list[tuple[str, int, str, dict[str, Any]]], kind: str) -> list[bytes]:
    """Native envelopes for history, Segment-free; the company and the people per ``tag``."""
    out = []
    for n, (who, days, type_, props) in enumerate(rows):
        role = dict(PEOPLE)[who]
        out.append(orjson.dumps({
            "id": f"{kind}-{tag}-{n}", "type": type_, "source": "crm-export",
            "time": (NOW - timedelta(days=days, minutes=n)).isoformat(),
            "contact": {"email": f"{who}@{tag}.example", "traits": {"role": role}},
            "account": {"external_id": f"acme-{tag}", "traits": {
                "industry": "software", "employees": 300, "region": "na"}},
            "properties": props,
        }))  # fmt: skip
    return out


async def _import(settings: OrchestratorSettings, tmp: Path, tag: str) -> list[str]:
    path = tmp / f"history-{tag}.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(_lines(tag, HISTORY, "h"))))
    history = read_history(lines_of(str(path)), "crm-export")
    assert history.invalid == []
    await publish_history(settings, in_order(history.events), len(history.events))
    return [e.id for e in history.events]


async def _live(settings: OrchestratorSettings, tag: str) -> list[str]:
    events = [EngagementEvent.model_validate_json(b) for b in _lines(tag, LIVE, "l")]
    producer = make_producer(settings)
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(ENGAGEMENT, encode(e), key=e.partition_key().encode())
    finally:
        await producer.stop()
    return [e.id for e in events]


async def _applied(engine: AsyncEngine, ids: list[str]) -> None:
    async def count() -> int:
        async with engine.connect() as conn:
            query = select(func.count()).select_from(inbox).where(inbox.c.event_id.in_(ids))
            return int((await conn.execute(query)).scalar_one())

    await eventually(count, lambda n: n == len(ids), deadline_s=60)


async def _world(engine: AsyncEngine, tag: str) -> dict[str, Any]:
    """Stages, scores and stage histories of the tag's people and company, named without ids."""
    async with engine.connect() as conn:
        people = (
            (await conn.execute(select(contacts).where(contacts.c.email.like(f"%@{tag}.example"))))
            .mappings()
            .all()
        )
        (company,) = (
            (await conn.execute(select(accounts).where(accounts.c.external_id == f"acme-{tag}")))
            .mappings()
            .all()
        )
        ids = {p["id"]: p["email"].split("@")[0] for p in people} | {company["id"]: "acme"}
        moves = (
            (
                await conn.execute(
                    select(stage_history)
                    .where(stage_history.c.subject_id.in_(ids))
                    .order_by(stage_history.c.occurred_at, stage_history.c.id)
                )
            )
            .mappings()
            .all()
        )
        planned = [
            (
                await conn.execute(
                    select(func.count()).select_from(t).where(t.c.contact_id.in_(ids))
                )
            ).scalar_one()
            for t in (touches, reminders)
        ]
        said = (
            await conn.execute(
                select(decisions.c.contact_id).where(
                    decisions.c.reason == "historical", decisions.c.contact_id.in_(ids)
                )
            )
        ).all()
    return {
        "stages": {ids[r["id"]]: (r["stage"], r["stage_entered_at"]) for r in [*people, company]},
        "scores": {ids[r["id"]]: pytest.approx(r["score"], rel=1e-3) for r in [*people, company]},
        "history": [(ids[m["subject_id"]], m["from_stage"], m["to_stage"], m["occurred_at"])
                    for m in moves],
        "planned_for_history": planned,
        "historical_decisions": sorted({ids[c] for (c,) in said}),
    }  # fmt: skip


async def test_history_imported_after_live_traffic_ends_as_if_imported_first(
    orchestrator: OrchestratorSettings, engine: AsyncEngine, tmp_path: Path
) -> None:
    first, after = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
    await _applied(engine, await _import(orchestrator, tmp_path, first))
    history_only = await _world(engine, first)
    await _applied(engine, await _live(orchestrator, first))
    await _applied(engine, await _live(orchestrator, after))
    live_only = await _world(engine, after)
    await _applied(engine, await _import(orchestrator, tmp_path, after))

    imported_first, imported_after = await _world(engine, first), await _world(engine, after)
    assert history_only["planned_for_history"] == [0, 0], "no touch, no reminder for the past"
    assert imported_after["planned_for_history"] == live_only["planned_for_history"]
    assert history_only["stages"]["ana"][0] == "sql", "the old demo request set the stage"
    for part in ("stages", "scores", "history"):
        assert imported_after[part] == imported_first[part], part
    assert imported_first["historical_decisions"] == ["ana", "bo"]


async def test_an_import_run_twice_changes_nothing(
    orchestrator: OrchestratorSettings, engine: AsyncEngine, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    await _applied(engine, await _import(orchestrator, tmp_path, tag))
    once = await _world(engine, tag)
    await _import(orchestrator, tmp_path, tag)  # a resumed or repeated run: the same ids
    # behind the repeat on the company's partition: once it is applied, so was the repeat
    marker = EngagementEvent.model_validate_json(
        _lines(tag, [("bo", 44, "email_opened", {})], "m")[0]
    )
    await publish_history(orchestrator, [marker], 1)
    await _applied(engine, [marker.id])
    twice = await _world(engine, tag)
    assert twice["history"] == once["history"]
    assert twice["stages"] == once["stages"]
    assert twice["planned_for_history"] == [0, 0]
