"""Bulk load and save of lifecycle state: one statement per table per batch, never per event.

States are stored as JSON (a contact's in the compact positional form of ``state_codec``, an
account's as its dataclass serialised by orjson) next to the columns people query (stage,
score, email, account). On PostgreSQL a
batch is one ``INSERT ... SELECT FROM unnest(arrays)`` per table (``adapters/bulk.py``); on SQLite
an executemany (SQLAlchemy's multi-row ``.values()`` measured 5-10x slower above ~100 rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Select, Text, bindparam, cast, func, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters import account_merges, bulk, sqlite_bulk
from services.orchestrator.adapters.bulk import is_postgresql
from services.orchestrator.adapters.state_cache import StateCache as StateCache
from services.orchestrator.adapters.state_cache import StateCaches as StateCaches
from services.orchestrator.adapters.state_cache import state_json as state_json
from services.orchestrator.adapters.state_codec import read_contact
from services.orchestrator.adapters.tables import (
    accounts,
    contacts,
    identity_aliases,
    stage_history,
)
from services.orchestrator.domain.identity import KnownIdentity
from services.orchestrator.domain.state import AccountState, ContactState, Transition
from services.orchestrator.domain.views import AccountView, ContactView
from trellis.db import json_dumps

_UNKNOWN = KnownIdentity()
# SQLite allows 32,766 bound parameters per statement; stay well below for IN lists.
CHUNK = 5000


def _parts(conn: AsyncConnection, items: Iterable[str]) -> Iterable[list[str]]:
    """The distinct items, sorted; in chunks for SQLite's IN lists, whole for PostgreSQL's ANY."""
    wanted = sorted(set(items))
    size = len(wanted) if is_postgresql(conn) else CHUNK
    for i in range(0, len(wanted), max(size, 1)):
        yield wanted[i : i + size]


# The statements run every batch, built once per backend (``bulk.in_ids``): building them
# again for each batch was most of what SQLAlchemy cost the orchestrator.


@cache
def _aliases_of(postgresql: bool) -> Select[Any]:
    cols = (identity_aliases.c.alias, identity_aliases.c.contact_id)
    return select(*cols).where(bulk.in_ids(cols[0], postgresql))


@cache
def _accounts_by(column: str, postgresql: bool) -> Select[Any]:
    cols = (accounts.c.id, accounts.c.external_id, accounts.c.domain, accounts.c.merged_into)
    return select(*cols).where(bulk.in_ids(accounts.c[column], postgresql))


@cache
def _accounts_by_either() -> Select[Any]:
    """PostgreSQL: the accounts whose external id is one of ``:ext`` or domain one of ``:dom``."""
    cols = (accounts.c.id, accounts.c.external_id, accounts.c.domain, accounts.c.merged_into)
    ext = bulk.in_ids(accounts.c.external_id, True, "ext")
    return select(*cols).where(or_(ext, bulk.in_ids(accounts.c.domain, True, "dom")))


@cache
def _states_of(table: Any, postgresql: bool) -> Select[Any]:
    return select(table.c.id, cast(table.c.state, Text)).where(bulk.in_ids(table.c.id, postgresql))


async def known_aliases(conn: AsyncConnection, aliases: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    stmt = _aliases_of(is_postgresql(conn))
    for part in _parts(conn, aliases):
        rows = await conn.execute(stmt, bulk.ids(conn, part))
        found.update({alias: cid for alias, cid in rows})
    return found


_ALIAS_COLUMNS = (("alias", "text"), ("contact_id", "text"), ("created_at", "timestamptz"))


async def save_aliases(
    conn: AsyncConnection, new: Mapping[str, str], moved: Mapping[str, str], now: datetime
) -> None:
    if new and is_postgresql(conn):
        rows = [(a, c, now) for a, c in new.items()]
        tail = "ON CONFLICT (alias) DO NOTHING"
        await bulk.insert_rows(conn, "identity_aliases", _ALIAS_COLUMNS, rows, tail)
    elif new:
        stmt = sqlite_insert(identity_aliases).on_conflict_do_nothing(
            index_elements=[identity_aliases.c.alias]
        )
        await conn.execute(
            stmt, [{"alias": a, "contact_id": c, "created_at": now} for a, c in new.items()]
        )
    if moved:
        move = (
            update(identity_aliases)
            .where(identity_aliases.c.alias == bindparam("b_alias"))
            .values(contact_id=bindparam("b_contact"))
        )
        await conn.execute(move, [{"b_alias": a, "b_contact": c} for a, c in moved.items()])


async def known_accounts(
    conn: AsyncConnection, external_ids: Iterable[str], domains: Iterable[str]
) -> list[tuple[str, str | None, str | None]]:
    """Stored (id, external id, domain) of accounts matching any of the identifiers; a domain a
    merged-away account kept is reported as its survivor's (``account_merges.follow``)."""
    found: dict[str, tuple[str, str | None, str | None, str | None]] = {}
    ext, dom = sorted(set(external_ids)), sorted(set(domains))
    postgresql = is_postgresql(conn)
    if postgresql and (ext or dom):  # one statement: either identifier matches
        params = {**bulk.ids(conn, ext, "ext"), **bulk.ids(conn, dom, "dom")}
        rows = await conn.execute(_accounts_by_either(), params)
        found.update({row[0]: (row[0], row[1], row[2], row[3]) for row in rows})
        return await account_merges.follow(conn, list(found.values()))
    for column, values in (("external_id", ext), ("domain", dom)):
        for part in _parts(conn, values):
            stmt = _accounts_by(column, postgresql)
            rows = await conn.execute(stmt, bulk.ids(conn, part))
            found.update({row[0]: (row[0], row[1], row[2], row[3]) for row in rows})
    return await account_merges.follow(conn, list(found.values()))


async def load_contacts(
    conn: AsyncConnection, ids: Iterable[str], cache: StateCache[ContactState] | None = None
) -> dict[str, ContactState]:
    cache = cache or StateCache(read_contact, 0)  # either stored form
    found: dict[str, ContactState] = {}
    stmt = _states_of(contacts, is_postgresql(conn))
    for part in _parts(conn, ids):
        rows = await conn.execute(stmt, bulk.ids(conn, part))
        for cid, state in rows:
            if state and state != "{}":
                found[cid] = cache.parse(cid, state)
    return found


async def load_accounts(
    conn: AsyncConnection, ids: Iterable[str], cache: StateCache[AccountState] | None = None
) -> dict[str, AccountState]:
    cache = cache or StateCache(AccountState.from_dict, 0)
    found: dict[str, AccountState] = {}
    stmt = _states_of(accounts, is_postgresql(conn))
    for part in _parts(conn, ids):
        rows = await conn.execute(stmt, bulk.ids(conn, part))
        for aid, state in rows:
            if state and state != "{}":
                found[aid] = cache.parse(aid, state)
    return found


_CONTACT_COLUMNS: bulk.Columns = (
    ("id", "text"), ("external_id", "text"), ("email", "text"), ("account_id", "text"),
    ("role", "text"), ("timezone", "text"), ("stage", "text"), ("score", "float8"),
    ("fit", "float8"), ("traits", "json"), ("state", "json"), ("stage_entered_at", "timestamptz"),
    ("last_event_at", "timestamptz"), ("created_at", "timestamptz"), ("updated_at", "timestamptz"),
)  # fmt: skip
_CONTACT_UPSERT = (
    "ON CONFLICT (id) DO UPDATE SET external_id = coalesce(excluded.external_id, "
    "contacts.external_id), email = coalesce(excluded.email, contacts.email), "
    "account_id = excluded.account_id, role = excluded.role, timezone = excluded.timezone, "
    "stage = excluded.stage, score = excluded.score, fit = excluded.fit, "
    "traits = excluded.traits, state = excluded.state, "
    "stage_entered_at = excluded.stage_entered_at, last_event_at = excluded.last_event_at, "
    "updated_at = excluded.updated_at "
    # what ``ContactView`` reads, as stored: the batch's views need no statement of their own
    "RETURNING id, account_id, email, stage, role, timezone, traits, owner_rep"
)
ViewRow = tuple[Any, ...]
"""A view's columns as an upsert returned them (PostgreSQL), in ``RETURNING`` order."""


async def save_contacts(
    conn: AsyncConnection,
    states: Mapping[str, ContactState],
    identity: Mapping[str, KnownIdentity],
    now: datetime,
    cache: StateCache[ContactState] | None = None,
) -> list[ViewRow]:
    """Upsert contacts. ``identity`` carries external id / email per contact id when known.
    Returns the rows as stored, for ``contact_view`` (on PostgreSQL; none on SQLite)."""
    if not states:
        return []
    rows = []
    for cid, s in states.items():
        known = identity.get(cid) or _UNKNOWN
        text = state_json(s)
        if cache is not None:
            cache.put(cid, text, s)
        traits = s.current.contact_traits
        rows.append(
            (
                cid, known.external_id, known.email, s.account_key,
                _str(traits.get("role")), _str(traits.get("timezone")),
                s.current.stage or "awareness", s.score, s.current.fit, json_dumps(traits),
                text, s.current.stage_entered_at, s.current.as_of, now, now,
            )
        )  # fmt: skip
    if is_postgresql(conn):
        saved = await bulk.insert_rows(conn, "contacts", _CONTACT_COLUMNS, rows, _CONTACT_UPSERT)
        return [tuple(r) for r in saved]
    await sqlite_bulk.insert_many(
        conn, "contacts", _sqlite_contact_upsert(), _CONTACT_COLUMNS, rows
    )
    return []


@cache
def _sqlite_contact_upsert() -> Any:
    stmt = sqlite_insert(contacts)
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[contacts.c.id],
        set_={
            "external_id": _coalesce(excluded.external_id, contacts.c.external_id),
            "email": _coalesce(excluded.email, contacts.c.email),
            **{c: excluded[c] for c in ("account_id", "role", "timezone", "stage", "score")},
            **{c: excluded[c] for c in ("fit", "traits", "state", "stage_entered_at")},
            **{c: excluded[c] for c in ("last_event_at", "updated_at")},
        },
    )


_ACCOUNT_COLUMNS: bulk.Columns = (
    ("id", "text"), ("external_id", "text"), ("domain", "text"), ("stage", "text"),
    ("score", "float8"), ("fit", "float8"), ("traits", "json"), ("state", "json"),
    ("stage_entered_at", "timestamptz"), ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"), ("name", "text"),
)  # fmt: skip
_ACCOUNT_UPSERT = (
    "ON CONFLICT (id) DO UPDATE SET "
    "external_id = coalesce(accounts.external_id, excluded.external_id), "
    "domain = coalesce(accounts.domain, excluded.domain), stage = excluded.stage, "
    "name = coalesce(excluded.name, accounts.name), "
    "score = excluded.score, state = excluded.state, "
    "stage_entered_at = excluded.stage_entered_at, updated_at = excluded.updated_at "
    "WHERE accounts.merged_into IS NULL "  # another instance merged it away meanwhile
    "RETURNING id, stage, owner_rep, traits, name, domain"  # what ``AccountView`` reads
)


async def save_accounts(
    conn: AsyncConnection,
    states: Mapping[str, AccountState],
    identity: Mapping[str, KnownIdentity],
    now: datetime,
    cache: StateCache[AccountState] | None = None,
) -> list[ViewRow]:
    """Upsert accounts; returns the rows updated as stored, for ``account_view`` (PostgreSQL)."""
    if not states:
        return []
    rows = []
    for aid, s in states.items():
        known = identity.get(aid) or _UNKNOWN
        text = state_json(s)
        if cache is not None:
            cache.put(aid, text, s)
        rows.append(
            (
                aid, known.external_id, known.domain, s.stage or "awareness",
                s.score, 0.0, json_dumps(dict(known.traits)), text, s.stage_entered_at,
                now, now, _account_name(known),
            )
        )  # fmt: skip
    if is_postgresql(conn):
        saved = await bulk.insert_rows(conn, "accounts", _ACCOUNT_COLUMNS, rows, _ACCOUNT_UPSERT)
        return [tuple(r) for r in saved]
    await sqlite_bulk.insert_many(
        conn, "accounts", _sqlite_account_upsert(), _ACCOUNT_COLUMNS, rows
    )
    return []


@cache
def _sqlite_account_upsert() -> Any:
    stmt = sqlite_insert(accounts)
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[accounts.c.id],
        set_={
            "external_id": _coalesce(accounts.c.external_id, excluded.external_id),
            "domain": _coalesce(accounts.c.domain, excluded.domain),
            "name": _coalesce(excluded.name, accounts.c.name),
            **{c: excluded[c] for c in ("stage", "score", "state", "stage_entered_at")},
            "updated_at": excluded.updated_at,
        },
        where=accounts.c.merged_into.is_(None),
    )


def contact_view(row: ViewRow) -> ContactView:
    cid, account_id, email, stage, role, timezone, traits, owner_rep = row
    return ContactView(
        id=cid, account_id=account_id, email=email, stage=stage, role=role, timezone=timezone,
        traits=_json(traits) or {}, owner_rep=owner_rep,
    )  # fmt: skip


def account_view(row: ViewRow) -> AccountView:
    aid, stage, owner_rep, traits, name, domain = row
    return AccountView(
        id=aid, stage=stage, owner_rep=owner_rep, traits=_json(traits) or {}, name=name,
        domain=domain,
    )  # fmt: skip


def _json(value: Any) -> Any:
    """A JSON column as returned: decoded by the engine's codec (``trellis.db``), or text."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _account_name(known: KnownIdentity) -> str | None:
    """Segment's reserved ``name`` trait (the column holds 300 characters)."""
    name = known.traits.get("name")
    return name[:300] if isinstance(name, str) and name.strip() else None


_HISTORY_COLUMNS: bulk.Columns = (
    ("subject_kind", "text"), ("subject_id", "text"), ("from_stage", "text"),
    ("to_stage", "text"), ("reason", "text"), ("event_id", "text"),
    ("occurred_at", "timestamptz"), ("playbook_version", "text"),
)  # fmt: skip


async def add_history(
    conn: AsyncConnection, transitions: Sequence[Transition], playbook_version: str
) -> None:
    if not transitions:
        return
    rows = [
        (t.subject_kind, t.subject_key, t.from_stage, t.to_stage, t.reason, t.event_id,
         t.occurred_at, playbook_version)
        for t in transitions
    ]  # fmt: skip
    if is_postgresql(conn):
        await bulk.insert_rows(conn, "stage_history", _HISTORY_COLUMNS, rows)
    else:
        stmt = stage_history.insert()
        await sqlite_bulk.insert_many(conn, "stage_history", stmt, _HISTORY_COLUMNS, rows)


def _str(value: object) -> str | None:
    return value[:64] if isinstance(value, str) else None


def _coalesce(first: Any, second: Any) -> Any:
    return func.coalesce(first, second)
