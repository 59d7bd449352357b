"""The views a batch reads after saving its contacts and accounts are what a select would read,
on both databases: on PostgreSQL they come from the upserts' ``RETURNING`` rows (no statement
of their own), and a row written since (an owner set) is read again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.domain.identity import KnownIdentity
from services.orchestrator.domain.state import AccountState, ContactState, Progress

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


def _contact(key: str, account: str | None, traits: dict[str, Any]) -> ContactState:
    return ContactState(key=key, account_key=account, current=Progress(contact_traits=traits))


async def test_views_after_a_save_are_what_a_select_reads(engine: AsyncEngine) -> None:
    contacts = {
        "c1": _contact("c1", "acme", {"role": "cfo", "timezone": "Pacific/Chatham", "n": 1}),
        "c2": _contact("c2", None, {}),
        "c3": _contact("c3", "acme", {"quote": 'a "b" \\ c'}),
    }
    identity = {"c1": KnownIdentity(email="a@acme.test", external_id="x1")}
    accounts = {"acme": AccountState(key="acme")}
    account_identity = {"acme": KnownIdentity(domain="acme.test", traits={"name": "Acme"})}
    async with engine.begin() as conn:
        uow = SqlUnitOfWork(conn)
        await uow.contacts.save(contacts, identity, NOW)
        await uow.accounts.save(accounts, account_identity, NOW)
        with counting(engine) as sent:
            people = await uow.contacts.views(["c3", "c1", "c2", "nobody"])
            firms = await uow.accounts.views(["acme", "other"])
        fresh = SqlUnitOfWork(conn)  # nothing saved through it: it selects
        assert people == await fresh.contacts.views(["c1", "c2", "c3", "nobody"])
        assert firms == await fresh.accounts.views(["acme", "other"])
        assert list(people) == ["c1", "c2", "c3"]
        assert people["c1"].traits["timezone"] == "Pacific/Chatham"
        assert firms["acme"].name == "Acme"
        if conn.dialect.name == "postgresql":  # only the unknown ids were selected
            assert len(sent) == 2

        await uow.contacts.set_owners({"c1": "rep@x.test"}, if_unowned=True)
        await uow.accounts.set_owners({"acme": "rep@x.test"}, if_unowned=True)
        assert (await uow.contacts.views(["c1"]))["c1"].owner_rep == "rep@x.test"
        assert (await uow.accounts.views(["acme"]))["acme"].owner_rep == "rep@x.test"
        # several owners in one write: an owned contact keeps its owner unless told otherwise
        await uow.contacts.set_owners({"c1": "late@x.test", "c2": "b@x.test"}, if_unowned=True)
        owners = {k: v.owner_rep for k, v in (await fresh.contacts.views(["c1", "c2"])).items()}
        assert owners == {"c1": "rep@x.test", "c2": "b@x.test"}
        await uow.contacts.set_owners({"c1": "new@x.test", "c2": "n2@x.test"}, if_unowned=False)
        owners = {k: v.owner_rep for k, v in (await uow.contacts.views(["c1", "c2"])).items()}
        assert owners == {"c1": "new@x.test", "c2": "n2@x.test"}
        await uow.accounts.set_owners({}, if_unowned=False)  # nothing to write
        await uow.contacts.retire(["c3"], NOW)
        assert (await uow.contacts.views(["c3"]))["c3"] == (await fresh.contacts.views(["c3"]))[
            "c3"
        ]
        await conn.rollback()
