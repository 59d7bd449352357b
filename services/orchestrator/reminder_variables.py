"""A rep reminder's template variables: the story (``domain.reminder_story``) told from what the
scheduler holds for the touch — the person, the account, the stored reminder — and, through
``tell_the_story``, from what only the database and the nurture plan know: score, committee
coverage, colleagues, the person's last engagements, the lateness threshold, the plan's talking
points, the rep's zone and Slack id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.commands import DispatchTouch
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.reminder_context import account_pictures
from services.orchestrator.adapters.sql_handoffs import SqlHandoffs
from services.orchestrator.domain.handoff_story import owners_in_words
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.reminder_story import (
    DEFAULT_POLICY,
    NO_PICTURE,
    AccountPicture,
    StoryPolicy,
    local_time,
    story_variables,
)
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.views import AccountView, ContactView, ReminderNote


@cache
def committee_roles() -> tuple[str, ...]:
    """The shipped playbook's committee (as the ops API's account page; parsed once)."""
    return tuple(default_playbook().accounts.committee_roles)


def coverage_words(picture: AccountPicture) -> str:
    """'committee: finance, technical engaged; executive not yet'."""
    if not picture.covered and not picture.missing:
        return ""
    engaged = ", ".join(picture.covered) or "nobody yet"
    missing = f"; {', '.join(picture.missing)} not yet" if picture.missing else ""
    return f"committee: {engaged} engaged{missing}"


def reminder_variables(
    note: ReminderNote,
    person: ContactView,
    account: AccountView | None,
    people: Mapping[str, Any],
    due: datetime,
    now: datetime,
    picture: AccountPicture = NO_PICTURE,
    policy: StoryPolicy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """``people``: the touch's ``contact``/``account`` variables, completed here."""
    contact = {**people["contact"], "local_time": local_time(person.timezone, now)}
    firm = dict(people["account"])
    if picture.score is not None:
        firm["score"] = f"{round(picture.score, 1):g}"
    firm["coverage"] = coverage_words(picture)
    first = person.traits.get("first_name") or contact.get("name") or "them"
    story = story_variables(
        reason=note.reason,
        who=contact["label"],
        first=str(first),
        stage=person.stage,
        role=person.role,
        evidence=note.evidence,
        stored_points=[str(p) for p in note.talking_points or ()],
        noticed=note.created_at,
        due=due,
        now=now,
        picture=picture,
        policy=policy,
    )
    return {"contact": contact, "account": firm, "reason": note.reason,
            "reminder_id": note.id, **story}  # fmt: skip


def policy_for(config: NurtureConfig, rep: str) -> StoryPolicy:
    told = config.reminders
    return StoryPolicy(
        stale_after=timedelta(hours=told.stale_after_hours),
        talking_points=told.talking_points,
        rep_zone=config.rep_zone(rep),
    )


def tell_stories(
    sends: Sequence[DispatchTouch],
    notes: Mapping[str, ReminderNote],
    people: Mapping[str, ContactView],
    accs: Mapping[str, AccountView],
    pictures: Mapping[str, AccountPicture],
    config: NurtureConfig,
    now: datetime,
) -> None:
    """Complete each reminder command's story in place (pure): ``notes`` by touch id,
    ``pictures`` by contact id (``adapters.reminder_context.account_pictures``)."""
    for cmd in sends:
        note, person = notes.get(cmd.touch_id), people.get(cmd.contact_id)
        if note is None or person is None:
            continue
        account = accs.get(person.account_id or "")
        cmd.variables.update(
            reminder_variables(
                note, person, account, cmd.variables, note.due_at or now, now,
                pictures.get(cmd.contact_id, NO_PICTURE), policy_for(config, cmd.to),
            )
        )  # fmt: skip
        zone = config.rep_zone(cmd.to)
        cmd.variables["rep"] = {
            **cmd.variables.get("rep", {}),
            "slack_id": config.rep_slack_id(cmd.to) or "",
            "timezone": zone.key if zone else "",
        }


async def tell_the_story(
    conn: AsyncConnection,
    sends: Sequence[DispatchTouch],
    notes: Mapping[str, ReminderNote],
    people: Mapping[str, ContactView],
    accs: Mapping[str, AccountView],
    config: NurtureConfig,
    now: datetime,
) -> None:
    """``tell_stories`` with the pictures read on ``conn`` (three statements per round)."""
    owners = {c.contact_id: c.account_id for c in sends if c.touch_id in notes}
    pictures = await account_pictures(conn, owners, committee_roles()) if owners else {}
    tell_stories(sends, notes, people, accs, pictures, config, now)
    await name_the_owners(conn, sends, notes, accs, config)


async def name_the_owners(
    conn: AsyncConnection,
    sends: Sequence[DispatchTouch],
    notes: Mapping[str, ReminderNote],
    accs: Mapping[str, AccountView],
    config: NurtureConfig,
) -> None:
    """Every reminder names who owns its account now and who did before (``account.owners``):
    the owner per team (``account_owners``), the team owning the account's stage first."""
    told = {c.account_id for c in sends if c.touch_id in notes and c.account_id}
    if not told:
        return
    rows = await SqlHandoffs(conn).owners(told)
    for cmd in sends:
        account = accs.get(cmd.account_id or "")
        if cmd.touch_id not in notes or account is None:
            continue
        stage = account.stage or ""
        team = config.stage_teams.get(Stage(stage)) if stage in Stage._value2member_map_ else None
        mine = [o for (aid, _), o in rows.items() if aid == account.id]
        words = owners_in_words(mine, account.owner_rep, team)
        if words:
            cmd.variables.setdefault("account", {})["owners"] = words
