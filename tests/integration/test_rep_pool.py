"""The rep pool deals new accounts out evenly and the chosen rep stays the owner."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.tables import accounts, contacts, reminders
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.people import Nurture
from tests.probes import StoredRecord

WEDNESDAY_NOON = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
POOL = ("pool-a@x.example", "pool-b@x.example")
NURTURE = Nurture(default_nurture(), POOL, ("x.example",))


def _demo(tag: str, n: int, account: str) -> StoredRecord:
    value = orjson.dumps({
        "id": f"{tag}-{n}", "type": "demo_requested", "source": "test",
        "time": WEDNESDAY_NOON.isoformat(),
        "contact": {"external_id": f"{tag}-{n}", "email": f"p{n}@{tag}.example"},
        "account": {"external_id": f"{tag}-{account}", "domain": f"{account}.{tag}.example"},
    })  # fmt: skip
    return StoredRecord("trellis.engagement.v1", 0, n, value)


async def test_four_new_accounts_go_two_and_two_and_the_owner_is_stored(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        before = Counter(
            (await conn.execute(select(accounts.c.owner_rep).where(
                accounts.c.owner_rep.in_(POOL)))).scalars()
        )  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    # one batch per demo request, the way they trickle in; then a second person at account 1
    for n, account in enumerate(("one", "two", "three", "four", "one"), start=1):
        await apply_engagement([_demo(tag, n, account)], engine, default_playbook(),
                               lambda: WEDNESDAY_NOON, nurture=NURTURE)  # fmt: skip
    async with engine.connect() as conn:
        owners = dict((await conn.execute(select(accounts.c.external_id, accounts.c.owner_rep)
                       .where(accounts.c.external_id.like(f"{tag}-%")))).all())  # fmt: skip
        people = dict((await conn.execute(select(contacts.c.external_id, contacts.c.owner_rep)
                       .where(contacts.c.external_id.like(f"{tag}-%")))).all())  # fmt: skip
        sent_to = dict((await conn.execute(select(contacts.c.external_id, reminders.c.rep)
                        .join(reminders, reminders.c.contact_id == contacts.c.id)
                        .where(contacts.c.external_id.like(f"{tag}-%")))).all())  # fmt: skip
    load = Counter(owners.values()) + before
    assert abs(load[POOL[0]] - load[POOL[1]]) <= 1  # dealt out evenly, whatever came before
    assert set(owners.values()) == set(POOL)
    assert people[f"{tag}-1"] == owners[f"{tag}-one"]  # the pool's choice, stored on both
    assert people[f"{tag}-5"] is None  # the second person at account one: owned by the account
    assert sent_to[f"{tag}-5"] == owners[f"{tag}-one"]  # so the account's rep is reminded
    assert all(sent_to[k] == people[k] for k in people if people[k])
