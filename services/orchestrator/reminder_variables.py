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
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.reminder_story import (
    DEFAULT_POLICY,
    NO_PICTURE,
    AccountPicture,
    StoryPolicy,
    local_time,
    story_variables,
)
from services.orchestrator.domain.views import AccountView, ContactView, ReminderNote, StoredTouch


@cache
def _committee_roles() -> tuple[str, ...]:
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
        firm["score"] = f"{picture.score:g}"
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


async def tell_the_story(
    conn: AsyncConnection,
    sends: Sequence[tuple[StoredTouch, DispatchTouch]],
    notes: Mapping[str, ReminderNote],
    people: Mapping[str, ContactView],
    accs: Mapping[str, AccountView],
    config: NurtureConfig,
    now: datetime,
) -> None:
    """Complete each reminder command's story in place (one round, three statements)."""
    told = [(row, cmd, notes[row.id]) for row, cmd in sends if row.id in notes]
    if not told:
        return
    owners = {row.contact_id: cmd.account_id for row, cmd, _ in told}
    roles = _committee_roles()
    pictures = await account_pictures(conn, owners, roles)
    for row, cmd, note in told:
        person = people.get(row.contact_id)
        if person is None:
            continue
        account = accs.get(person.account_id or "")
        cmd.variables.update(
            reminder_variables(
                note, person, account, cmd.variables, row.due_at, now,
                pictures.get(row.contact_id, NO_PICTURE), policy_for(config, cmd.to),
            )
        )  # fmt: skip
        zone = config.rep_zone(cmd.to)
        cmd.variables["rep"] = {
            **cmd.variables.get("rep", {}),
            "slack_id": config.rep_slack_id(cmd.to) or "",
            "timezone": zone.key if zone else "",
        }
