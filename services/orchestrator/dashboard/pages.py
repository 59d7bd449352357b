"""The dashboard's read pages: funnel and flow, accounts, contacts, the reminder inbox, dead
letters. Each handler reads through ``ops.queries`` (the API's read side, so page and API agree)
or ``dashboard.reads`` and renders one template; no SQL lives here."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from markupsafe import Markup

from services.orchestrator.adapters import consent_store
from services.orchestrator.dashboard import access, dead_letters, reads, words
from services.orchestrator.dashboard.flow import stage_flow
from services.orchestrator.dashboard.funnel_view import (
    KPI_COLUMNS,
    funnel_bars,
    kpi_rows,
    lift_rows,
    time_range,
)
from services.orchestrator.dashboard.svg import flow_chart, funnel_chart, lift_chart
from services.orchestrator.dashboard.ui import HERE, PageMissing, Ui, viewer
from services.orchestrator.domain.consent import ConsentLedger
from services.orchestrator.domain.segments import Segment
from services.orchestrator.domain.stages import Stage
from services.orchestrator.ops import queries
from services.orchestrator.ops.auth import Scope
from services.orchestrator.ops.kpi_definitions import KPI_DEFINITIONS
from services.orchestrator.ops.kpi_queries import KpiAsk
from services.orchestrator.ops.paging import InvalidCursor

FLOW_POINTS = 31
BROKER_DEADLINE_S = 20.0
NOTICES = {
    "acknowledged": "Reminder acknowledged.",
    "snoozed": "Reminder snoozed.",
    "done": "Reminder marked done.",
    "replayed": "Replayed to the original topic; the consumer applies it (once) shortly.",
    "nothing": "Nothing to replay.",
}


def _notice(request: Request) -> str:
    return NOTICES.get(request.query_params.get("notice", ""), "")


def chart(svg: str) -> Markup:
    """Chart markup for a template; ``svg.py`` has escaped every value it put in."""
    return Markup(svg)  # noqa: S704


def _count(request: Request) -> str:
    raw = request.query_params.get("count", "")
    return raw if raw.isdigit() else ""


def add_pages(router: APIRouter, ui: Ui) -> None:
    @router.get("/static/dashboard.css")
    async def stylesheet() -> FileResponse:
        return FileResponse(HERE / "static" / "dashboard.css", media_type="text/css")

    @router.get("/login")
    async def login_form(request: Request, next: str = "/ui/", problem: str = "") -> Response:
        return ui.page(request, "login.html", next=access.safe_next(next), problem=bool(problem))

    @router.get("/")
    async def overview(
        request: Request,
        since: str | None = None,
        until: str | None = None,
        account: str | None = None,
        segment: str | None = None,
        goal: str | None = None,
    ) -> Response:
        """The whole funnel, or one account's (``?account=``) and its contacts'; the KPI table
        (per ``?segment=``) and each sequence's lift over its holdout (and to ``?goal=``)."""
        key = await viewer(ui, request)
        lo, hi, problem = time_range(since, until, ui.clock())
        split = Segment(segment) if segment and segment in Segment._value2member_map_ else None
        async with ui.engine.connect() as conn:
            aim = Stage(goal) if goal and goal in Stage._value2member_map_ else None
            ask = KpiAsk(split, ui.settings.load_nurture(), goal=aim)
            metrics = await queries.funnel(conn, lo, hi, account or None, ask)
            moves = await reads.history_moves(conn, "contact", hi, account_id=account or None)
        flow = stage_flow(moves, lo, hi, FLOW_POINTS)
        people = funnel_bars(metrics["contacts"], "/ui/contacts")
        firms = funnel_bars(metrics["accounts"], "/ui/accounts")
        return ui.page(
            request,
            "overview.html",
            key=key,
            since=lo,
            until=hi,
            account=account or "",
            problem=problem,
            metrics=metrics,
            contacts_chart=chart(funnel_chart(people, "Contacts entering each stage")),
            accounts_chart=chart(funnel_chart(firms, "Accounts entering each stage")),
            flow_chart=chart(flow_chart(flow, "Contacts per stage over time", 1100, 300)),
            segments=[s.value for s in Segment],
            segment=split.value if split else "",
            kpi_columns=KPI_COLUMNS,
            kpi_rows=kpi_rows(metrics),
            definitions=KPI_DEFINITIONS,
            lift_chart=chart(lift_chart(lift_rows(metrics), "Lift to the next stage")),
            goal=aim.value if aim else "",
            goal_stages=[s.value for s in Stage if s.rank > 0],
            goal_chart=chart(lift_chart(lift_rows(metrics, goal=True), f"Lift to {aim}"))
            if aim
            else "",
            since_day=lo.date().isoformat(),
            until_day=(hi - timedelta(seconds=1)).date().isoformat(),
        )

    @router.get("/accounts/{account_id}")
    async def account(request: Request, account_id: str) -> Response:
        key = await viewer(ui, request)
        async with ui.engine.connect() as conn:
            found = await queries.get_account(
                conn, account_id, ui.committee_roles, ui.wanted_roles, ui.clock()
            )
            if found is None:
                raise PageMissing(f"No account {account_id}.")
            journey = await reads.account_journey(conn, account_id)
            recent = await queries.list_touches(conn, account_id=account_id, limit=50)
            owners, handoffs = await reads.account_owners(conn, account_id)
        names = {p["id"]: p["email"] for ps in found["stakeholders"].values() for p in ps}
        return ui.page(request, "account.html", key=key, account=found, journey=journey,
                       touches=recent["items"], names=names, humanise=words.humanise,
                       owners=owners, handoffs=handoffs)  # fmt: skip

    @router.get("/contacts")
    async def contact_list(
        request: Request,
        stage: str | None = None,
        account: str | None = None,
        cursor: str | None = None,
    ) -> Response:
        key = await viewer(ui, request)
        async with ui.engine.connect() as conn:
            try:
                found = await queries.list_contacts(
                    conn, stage=stage or None, account_id=account or None, cursor=cursor
                )
            except InvalidCursor as exc:
                raise PageMissing("That page of contacts does not exist.") from exc
            names = await reads.account_names(conn, (c["account_id"] for c in found["items"]))
        return ui.page(request, "contacts.html", key=key, stage=stage, account=account,
                       page=found, stages=[s.value for s in Stage],
                       account_names=names)  # fmt: skip

    @router.get("/contacts/{contact_id}")
    async def contact(request: Request, contact_id: str) -> Response:
        key = await viewer(ui, request)
        now = ui.clock()
        async with ui.engine.connect() as conn:
            found = await queries.get_contact(conn, contact_id, now=now, bases=ui.bases)
            if found is None:
                raise PageMissing(f"No contact {contact_id}.")
            timeline = await queries.contact_timeline(conn, contact_id, 300) or []
            answer = await queries.why(conn, contact_id, now=now, bases=ui.bases)
            touched = await reads.touches_by_id(
                conn, (str(i["touch_id"]) for i in timeline if i.get("touch_id"))
            )
            stored = (await consent_store.load(conn, [contact_id]))[contact_id]
        ledger = ConsentLedger(stored.entries, stored.suppressions, ui.bases)
        entries = [
            {
                **item,
                "happened": words.happened(item),
                "words": words.describe(
                    item, found, touched.get(str(item.get("touch_id"))), ledger, now
                ),
                "tone": words.tone(item),
            }
            for item in timeline
        ]
        entries.sort(key=lambda e: e["happened"], reverse=True)
        return ui.page(request, "contact.html", key=key, contact=found, timeline=entries,
                       why=answer, humanise=words.humanise,
                       reminder_reason=words.reminder_reason)  # fmt: skip

    @router.get("/dead-letters")
    async def dead_letter_list(request: Request) -> Response:
        key = await viewer(ui, request)
        access.need(key, Scope.ADMIN, Scope.READ)
        problem = ""
        try:
            letters = await asyncio.wait_for(
                dead_letters.list_dead_letters(ui.settings), BROKER_DEADLINE_S
            )
        except (KafkaError, OSError, TimeoutError) as exc:
            letters, problem = [], f"The broker did not answer ({type(exc).__name__}); try again."
        async with ui.engine.connect() as conn:
            done = await dead_letters.replays(conn)
        topics = sorted({d.topic for d in letters})
        return ui.page(
            request, "dead_letters.html", 503 if problem else 200, key=key, letters=letters,
            replays=done, topics=topics, can_replay=key.scope is Scope.ADMIN, problem=problem,
            notice=_notice(request), count=_count(request),
        )  # fmt: skip
