"""Reminders for a rep: list, read, acknowledge, snooze, complete — with an API key or a signed
link from the reminder message.

A link (``GET .../{action}?token=``) only shows what will happen and a button that POSTs; the
action itself is a POST. Mail scanners and chat unfurlers fetch every link in a message, so a GET
that acknowledged would acknowledge reminders nobody read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime

from services.orchestrator.domain.reminders import (
    InvalidTransition,
    ReminderAction,
    ReminderStatus,
)
from services.orchestrator.ops import link_pages, queries
from services.orchestrator.ops import reminder_pages as pages
from services.orchestrator.ops.auth import (
    WRITERS,
    MaybeKey,
    Principal,
    ReadKey,
    Scope,
    forbidden,
    unauthorized,
)
from services.orchestrator.ops.errors import conflict, invalid, not_found
from services.orchestrator.ops.links import LinkProblem, ReminderLinks
from services.orchestrator.ops.models import Reminder, ReminderPage, answers
from services.orchestrator.ops.params import MAX_ID, IdFilter, PathId
from services.orchestrator.ops.reminders import (
    MAX_SNOOZE,
    Actor,
    NotYourReminder,
    ReminderNotFound,
    act,
    snooze_end,
    snooze_problem,
)
from services.orchestrator.ops.report_models import ReminderLinkView
from services.orchestrator.ops.routes import Conn, Cursor, Limit

DEFAULT_SNOOZE = timedelta(hours=1)
MAX_SNOOZE_MINUTES = int(MAX_SNOOZE.total_seconds()) // 60
Action = Literal["acknowledge", "snooze", "complete"]
Token = Annotated[
    str | None, Query(max_length=4 * MAX_ID, description="the signed token of a reminder link")
]

router = APIRouter(prefix="/v1/reminders", tags=["reminders"])


def _own_rep(principal: Principal, rep: str | None) -> str | None:
    """The rep filter a key may use: a rep key sees its own reminders only."""
    if principal.scope is not Scope.REP:
        return rep
    if rep not in (None, principal.rep):
        raise forbidden("a rep key reads only its own rep's reminders", (Scope.ADMIN, Scope.READ))
    return principal.rep


@router.get("", **answers(ReminderPage))
async def list_reminders(
    key: ReadKey,
    conn: Conn,
    rep: IdFilter = None,
    status: ReminderStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Reminders by due time, newest first (a rep key: its own only)."""
    return await queries.list_reminders(conn, _own_rep(key, rep), status, limit, cursor)


@router.get("/{reminder_id}", **answers(Reminder))
async def get_reminder(reminder_id: PathId, key: ReadKey, conn: Conn) -> dict[str, Any]:
    found = await queries.get_reminder(conn, reminder_id)
    if found is None:
        raise not_found("reminder", reminder_id)
    if key.scope is Scope.REP and found["rep"] != key.rep:
        raise forbidden("this reminder belongs to another rep", (Scope.ADMIN, Scope.READ))
    return found


def _check_link(request: Request, token: str | None, reminder_id: str, action: Action) -> None:
    links: ReminderLinks = request.app.state.links
    problem = links.check(token, reminder_id, ReminderAction(action), request.app.state.clock())
    if problem is LinkProblem.MISSING:
        raise unauthorized("send an API key ('Authorization: Bearer <key>') or a link token")
    if problem is LinkProblem.EXPIRED:
        raise forbidden("this link has expired; open the reminder with your API key")
    if problem is not None:
        raise forbidden(f"this link is not valid for {action} on reminder {reminder_id!r}")


@router.post("/{reminder_id}/{action}", **answers(Reminder))
async def act_on_reminder(
    reminder_id: PathId,
    action: Action,
    request: Request,
    principal: MaybeKey,
    token: Token = None,
    minutes: Annotated[int | None, Query(ge=1, le=MAX_SNOOZE_MINUTES)] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="snooze until (30 days at most)")
    ] = None,
) -> dict[str, Any] | Response:
    """Acknowledge, snooze (``minutes`` or ``until``, up to ``MAX_SNOOZE``; default one hour) or
    complete. A form posted from the link's page (``choice``, ``day``) is answered with a page."""
    if principal is None and pages.wants_html(request):
        return await link_pages.act_from_page(request, reminder_id, action, token)
    if principal is None:
        _check_link(request, token, reminder_id, action)
        actor = Actor("signed link")
    elif principal.scope not in WRITERS:
        raise forbidden(f"{action} needs a key with scope admin or rep", WRITERS)
    else:
        actor = Actor(principal.label, principal.rep)
    now: datetime = request.app.state.clock()
    if until is not None:  # checked whatever the action: a bad parameter is never ignored
        if problem := snooze_problem(until, now):
            raise invalid("query", "until", problem)
        until = snooze_end(until, now)
    elif action == "snooze":
        until = now + (timedelta(minutes=minutes) if minutes else DEFAULT_SNOOZE)
    try:
        async with request.app.state.engine.begin() as conn:
            return await act(conn, reminder_id, ReminderAction(action), now, actor, until)
    except ReminderNotFound:
        raise not_found("reminder", reminder_id) from None
    except NotYourReminder:
        raise forbidden("this reminder belongs to another rep", (Scope.ADMIN,)) from None
    except InvalidTransition as exc:
        raise conflict(str(exc)) from None


@router.get(
    "/{reminder_id}/{action}",
    response_model=None,
    responses={
        200: {
            "model": ReminderLinkView,
            "description": "What the link will do; a page with the button for `Accept: text/html`",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    },
)
async def reminder_link(
    reminder_id: PathId, action: Action, request: Request, conn: Conn, token: Token = None
) -> Response:
    """Where a reminder link lands: what the action will do, and a button that does it."""
    if pages.wants_html(request):
        return await link_pages.link_page(request, conn, reminder_id, action, token)
    _check_link(request, token, reminder_id, action)
    found = await queries.get_reminder(conn, reminder_id)
    if found is None:
        raise not_found("reminder", reminder_id)
    target = f"{request.url.path}?{request.url.query}"  # relative: right behind a proxy too
    body = {"reminder": found, "action": action, "confirm": {"method": "POST", "url": target}}
    return JSONResponse(_jsonable(body))


def _jsonable(value: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)
