"""``tell_the_story`` on both databases: what only the database and the nurture plan know joins
the reminder command — score, committee coverage, colleagues engaged with their roles and stages,
the person's last engagements with dates, the plan's lateness threshold and talking points, the
rep's zone and Slack id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.tables import accounts, contacts
from services.orchestrator.domain.nurture_config import RepProfile
from services.orchestrator.domain.views import AccountView, ContactView, ReminderNote, StoredTouch
from services.orchestrator.reminder_variables import tell_the_story
from services.orchestrator.touch_commands import command

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
REP = "dana@x.example"


async def _seed(engine: AsyncEngine) -> None:
    common = {"fit": 0.0, "created_at": NOW, "updated_at": NOW}
    pending = [
        {"event_id": "e1", "type": "page_viewed", "properties": {"path": "/pricing"},
         "occurred_at": (NOW - timedelta(days=3)).isoformat()},
        {"event_id": "e2", "type": "webinar_attended", "properties": {},
         "occurred_at": (NOW - timedelta(days=9)).isoformat()},
    ]  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(accounts.insert().values(
            id="a_1", name="Globex", domain="globex.example", stage="mql", score=61.5,
            traits={}, state={"coverage": ["finance", "user"]}, **common,
        ))  # fmt: skip
        await conn.execute(contacts.insert(), [
            {"id": "c_ivan", "account_id": "a_1", "email": "ivan@globex.example", "role": "finance",
             "stage": "sql", "score": 30.0, "traits": {"first_name": "Ivan"},
             "state": {"pending": pending}, "last_event_at": NOW, **common},
            {"id": "c_ana", "account_id": "a_1", "email": "ana@globex.example", "role": "user",
             "stage": "engaged", "score": 12.0, "traits": {"name": "Ana Ruiz"}, "state": {},
             "last_event_at": NOW - timedelta(days=1), **common},
            {"id": "c_quiet", "account_id": "a_1", "email": "q@globex.example", "role": None,
             "stage": "awareness", "score": 0.0, "traits": {}, "state": {},
             "last_event_at": None, **common},
        ])  # fmt: skip


async def test_the_story_gains_the_account_its_people_and_the_plans_say(
    engine: AsyncEngine,
) -> None:
    await _seed(engine)
    plan = default_nurture().model_copy(update={
        "reps": {REP: RepProfile(timezone="Europe/Berlin", slack_user_id="U024BE7LH")},
        "reminders": default_nurture().reminders.model_copy(update={
            "stale_after_hours": 96, "talking_points": {"demo_requested": ("Ask who else",)}}),
    })  # fmt: skip
    ivan = ContactView(id="c_ivan", account_id="a_1", email="ivan@globex.example", stage="sql",
                       role="finance", traits={"first_name": "Ivan"})  # fmt: skip
    globex = AccountView(id="a_1", stage="mql", name="Globex", domain="globex.example")
    note = ReminderNote(
        id="r_1", rep=REP, reason="demo_requested", talking_points=["Book a slot"],
        evidence=[{"said": "requested a demo", "at": (NOW - timedelta(days=2)).isoformat()}],
        created_at=NOW,
    )  # fmt: skip
    row = StoredTouch(id="r_1", contact_id="c_ivan", account_id="a_1",
                      channel="rep_call_reminder", template_id="reminders/demo_requested",
                      stage="sql", sequence_step="reminder/demo_requested", due_at=NOW)  # fmt: skip
    cmd = command(row, REP, lambda _: None, ivan, globex, note, NOW)
    assert cmd.variables["late"] is True  # two days: late by the built-in 24 hours
    async with engine.connect() as conn:
        await tell_the_story(conn, [cmd], {"r_1": note}, {"c_ivan": ivan}, {"a_1": globex},
                             plan, NOW)  # fmt: skip
    v = cmd.variables
    assert v["late"] is False  # the plan allows 96 hours
    assert v["happened"] == "Ivan requested a demo on 16 Nov, 2 days ago."
    assert v["account"]["score"] == "61.5"
    assert v["account"]["coverage"] == (
        "committee: finance, user engaged; manager, technical, executive not yet"
    )
    assert v["colleagues"] == ["Ana Ruiz (user, engaged)"]  # the quiet one is not engaged
    assert v["evidence"] == [
        "Requested a demo on 16 Nov, 2 days ago",
        "Viewed /pricing on 15 Nov, 3 days ago",
        "Attended a webinar on 09 Nov, 9 days ago",
    ]
    assert v["talking_points"] == [
        "Ask who else",  # the plan's, then by role, stage and what led here
        "Bring pricing, ROI and the payment terms they will ask about",
        "Qualify timeline, budget and who else decides",
        "They looked at pricing: have the numbers for their size ready",
        "Ask what they took from the webinar",
    ]
    assert v["next_step"] == "Call Ivan to book the demo by Wed 18 Nov, 14:00 (your time)"
    assert v["rep"]["slack_id"] == "U024BE7LH" and v["rep"]["timezone"] == "Europe/Berlin"
