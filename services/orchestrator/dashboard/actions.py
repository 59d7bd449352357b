"""The dashboard's writes, all plain HTML form POSTs answered with a redirect (post/redirect/get):
log in and out, a rep's reminder actions (through the ops API's ``reminders.act``, so the state
machine, rep binding and decision log are the API's), and dead-letter replay (admin only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from services.orchestrator.dashboard import access, dead_letters
from services.orchestrator.dashboard.ui import BadInput, PageMissing, Ui, set_key_cookie, viewer
from services.orchestrator.domain.reminders import InvalidTransition, ReminderAction
from services.orchestrator.ops.auth import WRITERS, ApiKey, Scope
from services.orchestrator.ops.params import Printable
from services.orchestrator.ops.reminders import (
    Actor,
    NotYourReminder,
    ReminderNotFound,
    act,
    snooze_problem,
)

SNOOZE_HOURS = (1, 4, 24, 72)
MAX_TOPIC = 249  # Kafka's own limit on a topic name
Partition = Annotated[int, Form(ge=0, le=2**31 - 1)]  # Kafka: int32
Offset = Annotated[int, Form(ge=0, le=2**63 - 1)]  # Kafka: int64
Topic = Annotated[str, Form(min_length=1, max_length=MAX_TOPIC), Printable]
DONE_WORDS = {
    ReminderAction.ACKNOWLEDGE: "acknowledged",
    ReminderAction.SNOOZE: "snoozed",
    ReminderAction.COMPLETE: "done",
}


def _back(next_url: str | None, **params: str | int) -> RedirectResponse:
    target = access.safe_next(next_url)
    if params:
        joiner = "&" if "?" in target else "?"
        target += joiner + urlencode(params)
    return RedirectResponse(target, status_code=303)


def label(key: ApiKey) -> str:
    """How the logs name a person acting through the dashboard."""
    return f"dashboard: key {key.name} ({key.id})"


def _broker_down(ui: Ui, request: Request, exc: Exception) -> Response:
    message = (
        f"The broker did not take the replay ({type(exc).__name__}). Messages already sent "
        "are marked replayed; try the rest again."
    )
    return ui.page(request, "message.html", 503, title="Broker unavailable", message=message)


def add_actions(router: APIRouter, ui: Ui) -> None:
    @router.post("/login")
    async def login(
        request: Request, key: Annotated[str, Form()], next: Annotated[str, Form()] = "/ui/"
    ) -> Response:
        access.same_origin(request)
        found = await access.check_secret(ui.engine, key)
        if found is None:
            return ui.page(request, "login.html", 401, next=access.safe_next(next), problem=True)
        reply = RedirectResponse(access.safe_next(next), status_code=303)
        set_key_cookie(reply, request, key.strip())
        return reply

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        access.same_origin(request)
        reply = RedirectResponse(f"{access.PREFIX}/login", status_code=303)
        reply.delete_cookie(access.COOKIE, path=access.PREFIX)
        return reply

    @router.post("/reminders/{reminder_id}/{action}")
    async def reminder_action(
        request: Request,
        reminder_id: str,
        action: str,
        hours: Annotated[int, Form()] = 1,
        next: Annotated[str, Form()] = "/ui/reminders",
    ) -> Response:
        access.same_origin(request)
        key = await viewer(ui, request)
        access.need(key, *WRITERS)
        chosen = ReminderAction._value2member_map_.get(action)
        if chosen not in DONE_WORDS:
            raise PageMissing(f"No reminder action {action}.")
        assert isinstance(chosen, ReminderAction)
        now = ui.clock()
        until = None
        if chosen is ReminderAction.SNOOZE:  # the API's bound too, should the menu ever grow
            if hours not in SNOOZE_HOURS:
                raise BadInput(f"Snooze for one of {SNOOZE_HOURS} hours.")
            until = now + timedelta(hours=hours)
            if problem := snooze_problem(until, now):
                raise BadInput(f"Not a snooze the dashboard takes: {problem}.")
        actor = Actor(label(key), key.rep if key.scope is Scope.REP else None)
        try:
            async with ui.engine.begin() as conn:
                await act(conn, reminder_id, chosen, now, actor, until)
        except ReminderNotFound as exc:
            raise PageMissing(f"No reminder {reminder_id}.") from exc
        except NotYourReminder as exc:
            raise access.NotAllowed("That reminder belongs to another rep.") from exc
        except InvalidTransition as exc:
            message = f"This reminder cannot be {DONE_WORDS[chosen]} now: {exc}."
            return ui.page(request, "message.html", 409, title="Already changed", message=message)
        return _back(next, notice=DONE_WORDS[chosen])

    @router.post("/dead-letters/replay")
    async def replay_one(
        request: Request,
        topic: Topic,
        partition: Partition,
        offset: Offset,
    ) -> Response:
        access.same_origin(request)
        key = await viewer(ui, request)
        access.need(key, Scope.ADMIN)
        try:
            letter = await dead_letters.fetch(ui.settings, topic, partition, offset)
            done = await dead_letters.replay(
                ui.settings, ui.engine, [letter], label(key), ui.clock()
            )
        except dead_letters.UnknownDeadLetter as exc:
            raise PageMissing(str(exc)) from exc
        except (KafkaError, OSError) as exc:
            return _broker_down(ui, request, exc)
        return _back("/ui/dead-letters", notice="replayed", count=len(done))

    @router.post("/dead-letters/replay-all")
    async def replay_all(request: Request, topic: Topic) -> Response:
        """Every message of ``topic`` not replayed yet (one that failed again after a replay
        is a new message on the topic, so it is included)."""
        access.same_origin(request)
        key = await viewer(ui, request)
        access.need(key, Scope.ADMIN)
        try:
            letters = await dead_letters.list_dead_letters(ui.settings)
            async with ui.engine.connect() as conn:
                seen = await dead_letters.replays(conn)
            todo = [d for d in letters if d.topic == topic and d.ref not in seen]
            if not todo:
                return _back("/ui/dead-letters", notice="nothing")
            done = await dead_letters.replay(ui.settings, ui.engine, todo, label(key), ui.clock())
        except (KafkaError, OSError) as exc:
            return _broker_down(ui, request, exc)
        return _back("/ui/dead-letters", notice="replayed", count=len(done))
