"""Read side of the ops API: plain dicts from the orchestrator's tables (the dashboard uses them).

Every function takes an ``AsyncConnection`` and only reads. Lists are keyset-paginated
(``{"items": [...], "next_cursor": ...}``); a bad cursor raises ``paging.InvalidCursor``.
Detail functions return ``None`` for an unknown id.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.state_codec import contact_view
from services.orchestrator.adapters.tables import (
    accounts,
    consent_ledger,
    contacts,
    identity_aliases,
    reminders,
    stage_history,
    touches,
)
from services.orchestrator.domain.funnel import Move, funnel_metrics
from services.orchestrator.domain.stages import Stage
from services.orchestrator.ops import kpi_queries
from services.orchestrator.ops.account_plays import gap_answer, pause_answer
from services.orchestrator.ops.activity import TOUCH_KINDS as TOUCH_KINDS
from services.orchestrator.ops.activity import contact_timeline as contact_timeline
from services.orchestrator.ops.activity import data_quality
from services.orchestrator.ops.activity import get_reminder as get_reminder
from services.orchestrator.ops.activity import list_decisions as list_decisions
from services.orchestrator.ops.activity import list_reminders as list_reminders
from services.orchestrator.ops.activity import list_touches as list_touches
from services.orchestrator.ops.activity import why as why
from services.orchestrator.ops.explain import consent_view
from services.orchestrator.ops.kpi_definitions import KPI_DEFINITIONS
from services.orchestrator.ops.kpi_queries import KpiAsk, funnel_dict
from services.orchestrator.ops.lookups import account_known_by, contact_aliases, domain_key
from services.orchestrator.ops.paging import finish, page
from services.orchestrator.ops.query_base import Bases
from services.orchestrator.ops.query_base import ledger_of as _ledger
from services.orchestrator.ops.query_base import now_or_utc as _now
from services.orchestrator.ops.query_base import rows as _rows

SUMMARY = (
    contacts.c.id, contacts.c.email, contacts.c.external_id, contacts.c.account_id,
    contacts.c.role, contacts.c.stage, contacts.c.score, contacts.c.fit, contacts.c.owner_rep,
    contacts.c.stage_entered_at, contacts.c.last_event_at,
)  # fmt: skip


async def _history(conn: AsyncConnection, kind: str, subject: str) -> list[dict[str, Any]]:
    rows = await _rows(
        conn,
        select(stage_history.c.from_stage, stage_history.c.to_stage, stage_history.c.reason,
               stage_history.c.event_id, stage_history.c.occurred_at)
        .where(stage_history.c.subject_kind == kind, stage_history.c.subject_id == subject)
        .order_by(stage_history.c.occurred_at, stage_history.c.id),
    )  # fmt: skip
    for here, after in zip(rows, [*rows[1:], None][: len(rows)], strict=True):  # none: none
        left = after["occurred_at"] if after else None
        here["left_at"] = left
        here["days_in_stage"] = (
            round((left - here["occurred_at"]).total_seconds() / 86400, 3) if left else None
        )
    return rows


def _score_breakdown(row: Any) -> dict[str, Any]:
    """Points per scoring rule inside each rule's window (before decay), from the stored state."""
    score = (contact_view(row["state"]).get("current") or {}).get("score") or {}
    rules = [
        {"rule": name, "points": round(sum(a["points"] for a in awards), 6), "events": len(awards)}
        for name, awards in sorted((score.get("awards") or {}).items())
        if awards
    ]
    return {
        "total": row["score"],
        "undecayed": score.get("value"),
        "as_of": score.get("as_of"),
        "fit": row["fit"],
        "by_rule": rules,
    }


async def consent_state(
    conn: AsyncConnection, contact_id: str, *, now: datetime | None = None, bases: Bases = None
) -> dict[str, Any]:
    """Per channel: allowed now, the latest entry, the suppression in force, and the ledger."""
    ledger = await _ledger(conn, contact_id, bases)
    entries = await _rows(
        conn,
        select(consent_ledger.c.channel, consent_ledger.c.status, consent_ledger.c.source,
               consent_ledger.c.evidence, consent_ledger.c.recorded_at)
        .where(consent_ledger.c.contact_id == contact_id)
        .order_by(consent_ledger.c.recorded_at, consent_ledger.c.id),
    )  # fmt: skip
    return {"channels": consent_view(ledger, _now(now)), "ledger": entries}


async def get_contact(
    conn: AsyncConnection, contact_id: str, *, now: datetime | None = None, bases: Bases = None
) -> dict[str, Any] | None:
    row = (await conn.execute(select(contacts).where(contacts.c.id == contact_id))).first()
    if row is None:
        return None
    r = row._mapping
    out = {k: r[k] for k in (c.key for c in SUMMARY)}
    out |= {"timezone": r["timezone"], "traits": r["traits"], "created_at": r["created_at"]}
    out["score_breakdown"] = _score_breakdown(r)
    out["stage_history"] = await _history(conn, "contact", contact_id)
    out["consent"] = await consent_state(conn, contact_id, now=now, bases=bases)
    recent = select(touches).where(touches.c.contact_id == contact_id)
    out["touches"] = await _rows(conn, recent.order_by(touches.c.due_at.desc()).limit(20))
    mine = select(reminders).where(reminders.c.contact_id == contact_id)
    out["reminders"] = await _rows(conn, mine.order_by(reminders.c.created_at.desc()).limit(20))
    return out


async def list_contacts(
    conn: AsyncConnection,
    stage: str | None = None,
    account_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    email: str | None = None,
    external_id: str | None = None,
) -> dict[str, Any]:
    """``email`` / ``external_id``: the one contact identity resolution knows by it (its alias,
    the indexed primary key of ``identity_aliases``; a merged-away contact's moved with it)."""
    query = select(*SUMMARY)
    if stage:
        query = query.where(contacts.c.stage == stage)
    if account_id:
        query = query.where(contacts.c.account_id == account_id)
    for alias in contact_aliases(email, external_id):
        owner = select(identity_aliases.c.contact_id).where(identity_aliases.c.alias == alias)
        query = query.where(contacts.c.id.in_(owner))
    query = page(query, contacts.c.id, contacts.c.id, cursor, limit, descending=False, timed=False)
    return finish(await _rows(conn, query), limit, "id")


ACCOUNT_SUMMARY = (
    accounts.c.id, accounts.c.name, accounts.c.domain, accounts.c.external_id, accounts.c.stage,
    accounts.c.score, accounts.c.owner_rep, accounts.c.stage_entered_at,
)  # fmt: skip


async def list_accounts(
    conn: AsyncConnection,
    stage: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    domain: str | None = None,
    external_id: str | None = None,
) -> dict[str, Any]:
    """``domain`` / ``external_id``: the one account known by it (both columns are unique, so
    indexed); a domain left on a merged-away account finds the account it was merged into."""
    query = select(*ACCOUNT_SUMMARY)
    if stage:
        query = query.where(accounts.c.stage == stage)
    if domain is not None:
        query = query.where(
            accounts.c.id.in_(account_known_by(accounts.c.domain, domain_key(domain)))
        )
    if external_id is not None:
        query = query.where(
            accounts.c.id.in_(account_known_by(accounts.c.external_id, external_id))
        )
    query = page(query, accounts.c.id, accounts.c.id, cursor, limit, descending=False, timed=False)
    return finish(await _rows(conn, query), limit, "id")


async def get_account(
    conn: AsyncConnection,
    account_id: str,
    committee_roles: tuple[str, ...] | None = None,
    wanted_roles: Mapping[Stage, tuple[str, ...]] | None = None,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """The account, its stakeholders by role and its buying-committee coverage (against the
    playbook's ``committee_roles``) and gap (``wanted_roles``): the shipped playbook's when not
    given; and the pause holding its marketing at ``now``, if any."""
    if committee_roles is None:
        committee_roles = tuple(default_playbook().accounts.committee_roles)
    if wanted_roles is None:
        wanted_roles = default_playbook().accounts.wanted_roles
    row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).first()
    if row is None:
        return None
    r = row._mapping
    out = {k: r[k] for k in (c.key for c in ACCOUNT_SUMMARY)} | {"traits": r["traits"]}
    people = await _rows(
        conn, select(*SUMMARY).where(contacts.c.account_id == account_id).order_by(contacts.c.id)
    )
    by_role: dict[str, list[dict[str, Any]]] = {}
    for p in people:
        by_role.setdefault(p["role"] or "unknown", []).append(p)
    covered = list((r["state"] or {}).get("coverage") or ())
    out["stakeholders"] = by_role
    out["committee"] = {
        "roles": list(committee_roles),
        "covered": covered,
        "missing": [role for role in committee_roles if role not in covered],
        "coverage": round(len(covered) / len(committee_roles), 4) if committee_roles else None,
        "gap": gap_answer(r["state"], people, wanted_roles),
    }
    out["pause"] = await pause_answer(conn, account_id, _now(now), people)
    out["stage_history"] = await _history(conn, "account", account_id)
    return out


async def funnel(
    conn: AsyncConnection,
    since: datetime,
    until: datetime,
    account_id: str | None = None,
    ask: KpiAsk | None = None,
) -> dict[str, Any]:
    """Funnel metrics of contacts and of accounts (one account and its contacts if given), the
    revenue KPIs, the lift of each sequence over its holdout and, if asked, all by segment."""
    ask = ask or KpiAsk()
    base = select(
        stage_history.c.subject_id, stage_history.c.to_stage, stage_history.c.occurred_at,
        stage_history.c.id,
    ).where(stage_history.c.occurred_at < until)  # fmt: skip
    people = base.where(stage_history.c.subject_kind == "contact")
    firms = base.where(stage_history.c.subject_kind == "account")
    members = None
    if account_id is not None:
        members = select(contacts.c.id).where(contacts.c.account_id == account_id)
        people = people.where(stage_history.c.subject_id.in_(members))
        firms = firms.where(stage_history.c.subject_id == account_id)
    out: dict[str, Any] = {"since": since, "until": until, "account_id": account_id}
    moves: dict[str, list[Move]] = {}
    for name, query in (("contacts", people), ("accounts", firms)):
        moves[name] = [
            Move(sid, Stage(to), at, seq)
            for sid, to, at, seq in await conn.execute(query)
            if to in Stage._value2member_map_
        ]
        out[name] = funnel_dict(funnel_metrics(moves[name], since, until))
    facts = await kpi_queries.load_facts(conn, until, account_id)
    out["revenue"] = kpi_queries.revenue_kpis(
        facts, moves["contacts"], since, until, ask.gross_margin
    )
    people_of = await kpi_queries.members(conn, account_id, since, until)
    out["lift"] = kpi_queries.lift_dicts(people_of, moves["contacts"], since, until, ask)
    out["segments"] = None
    if ask.segment is not None:
        out["segments"] = await kpi_queries.by_segment(
            conn, ask, moves, facts, since, until, account_id
        )
    out["data_quality"] = await data_quality(conn, since, until, members)
    out["definitions"] = KPI_DEFINITIONS
    return out


async def contact_exists(conn: AsyncConnection, contact_id: str) -> bool:
    return (await conn.scalar(select(contacts.c.id).where(contacts.c.id == contact_id))) is not None


async def account_exists(conn: AsyncConnection, account_id: str) -> bool:
    return (await conn.scalar(select(accounts.c.id).where(accounts.c.id == account_id))) is not None
