"""Read routes (contacts, accounts, touches, funnel) and recording consent.

Route functions only parse, authorise and call ``queries``; no SQL here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.segments import Segment
from services.orchestrator.domain.stages import Stage
from services.orchestrator.ops import queries
from services.orchestrator.ops.auth import ReadKey
from services.orchestrator.ops.errors import invalid, not_found
from services.orchestrator.ops.kpi_queries import KpiAsk
from services.orchestrator.ops.models import (
    AccountDetail,
    AccountPage,
    ConsentState,
    ContactDetail,
    ContactPage,
    DecisionPage,
    TouchPage,
    answers,
)
from services.orchestrator.ops.paging import MAX_LIMIT
from services.orchestrator.ops.params import (
    MAX_ID,
    MAX_TEXT,
    DomainFilter,
    EmailFilter,
    ExternalIdFilter,
    IdFilter,
    PathId,
    Printable,
    Range,
)
from services.orchestrator.ops.report_models import Funnel, Timeline, Why

CONSENT_SOURCE = "ops-api"
TouchStatus = Literal[
    "planned", "dispatched", "skipped", "sent", "delivered", "failed", "bounced", "complained"
]


async def _read(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.engine.connect() as conn:
        yield conn


Conn = Annotated[AsyncConnection, Depends(_read)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=2 * MAX_ID, description="next_cursor of the previous page")
]

contacts_router = APIRouter(prefix="/v1/contacts", tags=["contacts"])
accounts_router = APIRouter(prefix="/v1/accounts", tags=["accounts"])
touches_router = APIRouter(prefix="/v1/touches", tags=["touches"])
funnel_router = APIRouter(prefix="/v1/funnel", tags=["funnel"])
decisions_router = APIRouter(prefix="/v1/decisions", tags=["decisions"])


@contacts_router.get("", **answers(ContactPage))
async def list_contacts(
    _key: ReadKey,
    conn: Conn,
    stage: Stage | None = None,
    account_id: IdFilter = None,
    email: EmailFilter = None,
    external_id: ExternalIdFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Contacts by id, filtered by stage and/or account. ``email`` or ``external_id`` looks one
    contact up (exact, indexed): a page of at most one item, empty when nobody is known by it."""
    return await queries.list_contacts(conn, stage, account_id, limit, cursor, email, external_id)


@contacts_router.get("/{contact_id}", **answers(ContactDetail))
async def get_contact(
    contact_id: PathId, _key: ReadKey, conn: Conn, request: Request
) -> dict[str, Any]:
    """State, score breakdown, stage history, consent, recent touches and reminders."""
    found = await queries.get_contact(
        conn, contact_id, now=request.app.state.clock(), bases=request.app.state.bases
    )
    if found is None:
        raise not_found("contact", contact_id)
    return found


@contacts_router.get("/{contact_id}/timeline", **answers(Timeline))
async def contact_timeline(
    contact_id: PathId, _key: ReadKey, conn: Conn, limit: Limit = 100
) -> dict[str, Any]:
    """Events still in the contact's state and every decision about them, newest first."""
    items = await queries.contact_timeline(conn, contact_id, limit)
    if items is None:
        raise not_found("contact", contact_id)
    return {"contact_id": contact_id, "items": items}


@contacts_router.get("/{contact_id}/why", **answers(Why))
async def why(contact_id: PathId, _key: ReadKey, conn: Conn, request: Request) -> dict[str, Any]:
    """Why the last touch was or was not sent: ``answer`` in plain words, plus the facts."""
    found = await queries.why(
        conn, contact_id, now=request.app.state.clock(), bases=request.app.state.bases
    )
    if found is None:
        raise not_found("contact", contact_id)
    return found


@contacts_router.get("/{contact_id}/consent", **answers(ConsentState))
async def get_consent(
    contact_id: PathId, _key: ReadKey, conn: Conn, request: Request
) -> dict[str, Any]:
    if not await queries.contact_exists(conn, contact_id):
        raise not_found("contact", contact_id)
    return await queries.consent_state(
        conn, contact_id, now=request.app.state.clock(), bases=request.app.state.bases
    )


@accounts_router.get("", **answers(AccountPage))
async def list_accounts(
    _key: ReadKey,
    conn: Conn,
    stage: Stage | None = None,
    domain: DomainFilter = None,
    external_id: ExternalIdFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Accounts by id, filtered by stage. ``domain`` or ``external_id`` looks one account up
    (exact, indexed; ``www.`` and case do not matter in a domain): a page of at most one item,
    empty when no account is known by it; a merged-away account's domain finds the survivor."""
    return await queries.list_accounts(conn, stage, limit, cursor, domain, external_id)


@accounts_router.get("/{account_id}", **answers(AccountDetail))
async def get_account(
    account_id: PathId, _key: ReadKey, conn: Conn, request: Request
) -> dict[str, Any]:
    """Stage, stakeholders by role, buying-committee coverage and gap, a running pause."""
    state = request.app.state
    found = await queries.get_account(
        conn, account_id, state.committee_roles, state.wanted_roles, state.clock()
    )
    if found is None:
        raise not_found("account", account_id)
    return found


@touches_router.get("", **answers(TouchPage))
async def list_touches(
    _key: ReadKey,
    conn: Conn,
    window: Range,
    status: TouchStatus | None = None,
    reason: Annotated[
        str | None, Query(max_length=MAX_TEXT, description="e.g. NO_CONSENT"), Printable
    ] = None,
    channel: TouchChannel | None = None,
    contact_id: IdFilter = None,
    account_id: IdFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Touches by due time, newest first (``since``/``until``: see ``params.QUERY_WINDOW``)."""
    since, until = window.since, window.until
    return await queries.list_touches(
        conn, status, reason, channel, since, until, contact_id, limit, cursor, account_id
    )


@funnel_router.get("", **answers(Funnel))
async def funnel(
    _key: ReadKey,
    conn: Conn,
    request: Request,
    window: Range,
    account_id: IdFilter = None,
    segment: Annotated[Segment | None, Query(description="split every KPI by it")] = None,
    gross_margin: Annotated[float, Query(ge=0, le=1, description="for CLTV")] = 0.75,
    lift_window_days: Annotated[int, Query(ge=1, le=365, description="lift horizon")] = 30,
    goal_stage: Annotated[Stage | None, Query(description="lift to this stage too")] = None,
    min_sample: Annotated[int, Query(ge=1, le=100_000, description="people per arm")] = 30,
) -> dict[str, Any]:
    """Stage KPIs (entries, conversion, median and p90 days in stage, velocity) for contacts
    and accounts (one account and its contacts with ``account_id``); revenue KPIs (pipeline,
    win rate, sales cycle, churn, NRR, CLTV, NPS) per currency; each sequence's lift over its
    holdout; with ``segment``, all of it per segment. ``definitions`` defines every figure."""
    end: datetime = window.until or request.app.state.clock()
    start = window.since or end - timedelta(days=30)
    if end <= start:
        raise invalid("query", "until", "until must be after since")
    if account_id is not None and not await queries.account_exists(conn, account_id):
        raise not_found("account", account_id)
    plan = request.app.state.nurture
    horizon = timedelta(days=lift_window_days)
    ask = KpiAsk(segment, plan, gross_margin, horizon, goal_stage, min_sample)
    return await queries.funnel(conn, start, end, account_id, ask)


@decisions_router.get("", **answers(DecisionPage))
async def list_decisions(
    _key: ReadKey,
    conn: Conn,
    window: Range,
    kind: Annotated[
        str | None, Query(max_length=32, description="e.g. touch_skipped"), Printable
    ] = None,
    reason: Annotated[
        str | None, Query(max_length=MAX_TEXT, description="e.g. QUIET_HOURS"), Printable
    ] = None,
    contact_id: IdFilter = None,
    account_id: IdFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The decision log (every yes and no, with its reason), newest first."""
    since, until = window.since, window.until
    return await queries.list_decisions(
        conn, kind, reason, contact_id, account_id, since, until, limit, cursor
    )
