"""Revision 0209 and contacts.state's compact positional form (issue 15, item 2): the upgrade
leaves rows as the previous release wrote them (it may still be reading them), the new code reads
them and stores them compact on save, and the downgrade writes every state back in the object
form the previous release reads, keeping each exactly (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import text

from services.orchestrator.adapters import repository as repo
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.state_codec import decode_contact, object_json
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.state import ContactState
from trellis.db import create_engine
from trellis.migrate import downgrade_async, upgrade_async

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _states() -> dict[str, ContactState]:
    events = [
        Engagement(
            event_id=f"e{i}",
            type=["page_viewed", "email_clicked", "demo_requested"][i % 3],
            occurred_at=NOW - timedelta(days=80 - 6 * i),
            properties={"path": "/pricing", "is_pricing": True} if i % 3 == 0 else {},
            contact_key=f"c{i % 3}",
            account_key="acme",
            contact_traits={"role": "finance"},
            account_traits={"industry": "software"},
        )
        for i in range(12)
    ]
    return dict(decide({}, {}, events, default_playbook(), NOW).contacts)


async def _stored(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT id, CAST(state AS TEXT) FROM contacts"))
            return {cid: state for cid, state in rows}
    finally:
        await engine.dispose()


async def test_states_become_compact_and_back(blank_database_url: str) -> None:
    url = blank_database_url
    await upgrade_async(url, "0208")
    states = _states()
    assert any(s.checkpoint.as_of for s in states.values()), "a checkpoint is converted too"
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for cid, state in [*states.items(), ("empty", None)]:
                await conn.execute(
                    text(
                        "INSERT INTO contacts (id, stage, score, fit, traits, state, created_at,"
                        " updated_at) VALUES (:id, 'awareness', 0, 0, '{}', :s, :n, :n)"
                    ),
                    {"id": cid, "s": object_json(state).decode() if state else "{}", "n": NOW},
                )
    finally:
        await engine.dispose()

    await upgrade_async(url)
    untouched = await _stored(url)
    for cid, state in states.items():  # what the old release wrote, still read by the new one
        assert untouched[cid].lstrip().startswith("{")
        assert decode_contact(untouched[cid]) == state
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:  # the new release saves them: compact
            await repo.save_contacts(conn, states, {}, NOW, None)
    finally:
        await engine.dispose()
    compact = await _stored(url)
    assert compact["empty"] == "{}"
    for cid, state in states.items():
        assert compact[cid].startswith("[4,"), "the positional form"
        assert decode_contact(compact[cid]) == state
        assert len(compact[cid]) < len(object_json(state))

    await downgrade_async(url, "0208")
    objects = await _stored(url)
    for cid, state in states.items():
        assert ContactState.from_dict(orjson.loads(objects[cid])) == state


async def test_saved_states_load_back_with_and_without_a_cache(blank_database_url: str) -> None:
    await upgrade_async(blank_database_url)
    states = _states()
    caches = repo.StateCaches()
    engine = create_engine(blank_database_url)
    try:
        async with engine.begin() as conn:
            await repo.save_contacts(conn, states, {}, NOW, caches.contacts)
        async with engine.connect() as conn:
            assert await repo.load_contacts(conn, states) == states
            cached = await repo.load_contacts(conn, states, caches.contacts)
    finally:
        await engine.dispose()
    assert cached == states and caches.contacts.hits == len(states), "the saved text is the key"
