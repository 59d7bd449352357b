"""The pages a rep works from: the reminder inbox (overdue, due, not yet due, snoozed; filtered
by reason and account; names on every card) and the account list (sorted by name, stage,
score or last activity; searched by name or domain; an exact email or domain typed in the search
goes straight to that contact's or account's page)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.dashboard import access, reads, words
from services.orchestrator.dashboard.account_list import SORTS, account_listing
from services.orchestrator.dashboard.inbox import (
    TODO,
    Urgency,
    in_order,
    inbox_accounts,
    inbox_items,
)
from services.orchestrator.dashboard.pages import NOTICES
from services.orchestrator.dashboard.ui import PageMissing, Ui, viewer
from services.orchestrator.domain.reminders import ReminderReason, ReminderStatus
from services.orchestrator.domain.stages import Stage
from services.orchestrator.ops.auth import WRITERS, Scope
from services.orchestrator.ops.lookups import account_by_domain, contact_by_email

STATUSES = tuple(s.value for s in ReminderStatus)
VIEWS = ("todo", *STATUSES, "all")
MAX_PAGE = 10_000


def page_number(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise PageMissing("That page of accounts does not exist.")
    return int(raw)


async def exact_match(conn: AsyncConnection, typed: str) -> str | None:
    """The page of the one contact (an email) or account (a domain) ``typed`` names exactly."""
    text = typed.strip()
    if not text or len(text) > 320:
        return None
    if "@" in text:
        contact = await contact_by_email(conn, text)
        return f"{access.PREFIX}/contacts/{quote(contact, safe='')}" if contact else None
    account = await account_by_domain(conn, text) if len(text) <= 253 else None
    return f"{access.PREFIX}/accounts/{quote(account, safe='')}" if account else None


def add_work_pages(router: APIRouter, ui: Ui) -> None:
    @router.get("/reminders")
    async def reminder_inbox(
        request: Request,
        rep: str | None = None,
        status: str = "todo",
        reason: str = "",
        account: str = "",
    ) -> Response:
        key = await viewer(ui, request)
        if key.scope is Scope.REP:
            rep = key.rep  # a rep key works its own inbox only
        view = status if status in VIEWS else "todo"
        wanted = {"todo": TODO, "all": STATUSES}.get(view, (view,))
        reason = reason if reason in ReminderReason._value2member_map_ else ""
        async with ui.engine.connect() as conn:
            found = await inbox_items(conn, rep or None, reason or None, account or None, wanted)
            firms = await inbox_accounts(conn, rep or None)
            reps = [] if key.scope is Scope.REP else await reads.reps_with_reminders(conn)
        items = in_order(found, ui.clock())
        return ui.page(
            request, "reminders.html", key=key, rep=rep or "", status=view, views=VIEWS,
            items=items, reps=reps, can_act=key.scope in WRITERS, reason=reason,
            reasons=[(r.value, words.reminder_reason(r.value)) for r in ReminderReason],
            account=account, accounts=firms, urgencies=[u.value for u in Urgency],
            notice=NOTICES.get(request.query_params.get("notice", ""), ""),  # after an action
            reminder_reason=words.reminder_reason,
            next_url=access.without_key(request, ("key", "notice", "count")),
        )  # fmt: skip

    @router.get("/accounts")
    async def account_list(
        request: Request,
        stage: str | None = None,
        q: str = "",
        sort: str = "name",
        order: str = "asc",
        page: str = "1",
    ) -> Response:
        key = await viewer(ui, request)
        number = page_number(page)
        sort = sort if sort in SORTS else "name"
        async with ui.engine.connect() as conn:
            page_of = await exact_match(conn, q)
            if page_of is not None:
                return RedirectResponse(page_of, status_code=303)
            found = await account_listing(conn, q, stage or None, sort, order == "desc", number)
        return ui.page(
            request, "accounts.html", key=key, stage=stage or "", q=q, sort=sort,
            order="desc" if order == "desc" else "asc", listing=found, number=number,
            sorts=SORTS, stages=[s.value for s in Stage],
        )  # fmt: skip
