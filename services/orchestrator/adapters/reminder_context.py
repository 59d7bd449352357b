"""What a rep reminder says about the account beyond the rows the scheduler holds: its score,
buying-committee coverage, the colleagues engaged there, and the person's last engagements (the
events still held in their state), read in three statements for a whole round of reminders."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.state_codec import contact_view
from services.orchestrator.adapters.tables import accounts, contacts
from services.orchestrator.domain.reminder_story import AccountPicture, Colleague, StoryLine
from services.orchestrator.domain.reminders import Signal, said
from trellis.message_templates import account_label, contact_label

COLLEAGUES = 5
RECENT = 4


def _name(traits: Mapping[str, object], email: str | None) -> str:
    name = traits.get("name") or " ".join(
        str(traits[k]) for k in ("first_name", "last_name") if traits.get(k)
    )
    return contact_label(name, email)


def _recent(state: object) -> tuple[StoryLine, ...]:
    """The person's newest engagements still held in their state, in words."""
    pending = contact_view(state).get("pending")
    lines = []
    for e in pending if isinstance(pending, list) else ():
        try:
            at = datetime.fromisoformat(e["occurred_at"])
            signal = Signal(e["event_id"], "", None, e["type"], e.get("properties") or {}, at)
        except (KeyError, TypeError, ValueError):
            continue
        lines.append(StoryLine(said(signal), at))
    lines.sort(key=lambda line: line.at.timestamp() if line.at else 0.0, reverse=True)
    return tuple(lines[:RECENT])


async def account_pictures(
    conn: AsyncConnection,
    people: Mapping[str, str | None],
    committee_roles: Collection[str],
) -> dict[str, AccountPicture]:
    """contact id -> its account's picture; ``people``: contact id -> account id."""
    account_ids = sorted({a for a in people.values() if a})
    firms = {
        r.id: r
        for r in await conn.execute(
            select(accounts.c.id, accounts.c.score, accounts.c.state).where(
                accounts.c.id.in_(account_ids)
            )
        )
    }
    members: dict[str, list[tuple[str, str | None, str | None, datetime | None, str]]] = {}
    rows = await conn.execute(
        select(
            contacts.c.id, contacts.c.account_id, contacts.c.email, contacts.c.role,
            contacts.c.stage, contacts.c.traits, contacts.c.last_event_at,
        ).where(contacts.c.account_id.in_(account_ids), contacts.c.last_event_at.is_not(None))
    )  # fmt: skip
    for r in rows:
        members.setdefault(r.account_id, []).append(
            (r.id, r.role, r.stage, r.last_event_at, _name(r.traits or {}, r.email))
        )
    states = {
        r.id: r.state
        for r in await conn.execute(
            select(contacts.c.id, contacts.c.state).where(contacts.c.id.in_(sorted(people)))
        )
    }
    out = {}
    for cid, aid in people.items():
        firm = firms.get(aid or "")
        covered = tuple((firm.state or {}).get("coverage") or ()) if firm else ()
        others = sorted(
            (m for m in members.get(aid or "", []) if m[0] != cid),
            key=lambda m: m[3].timestamp() if m[3] else 0.0,
            reverse=True,
        )
        out[cid] = AccountPicture(
            score=float(firm.score) if firm is not None else None,
            covered=covered,
            missing=tuple(r for r in committee_roles if r not in covered) if firm else (),
            colleagues=tuple(Colleague(m[4], m[1], m[2]) for m in others[:COLLEAGUES]),
            recent=_recent(states.get(cid)),
        )
    return out


async def reminder_names(
    conn: AsyncConnection, contact_id: str | None, account_id: str | None
) -> tuple[str, str]:
    """(the person's name, the account's name) as a reminder page shows them, never ids."""
    person = (
        await conn.execute(
            select(contacts.c.traits, contacts.c.email).where(contacts.c.id == contact_id)
        )
    ).first()
    firm = (
        await conn.execute(
            select(accounts.c.name, accounts.c.domain).where(accounts.c.id == account_id)
        )
    ).first()
    who = _name(person.traits or {}, person.email) if person else contact_label(None, None)
    return who, account_label(firm.name, firm.domain) if firm else account_label(None, None)
