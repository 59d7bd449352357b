"""The story a reminder tells (pure): when in words, late hand-raises, talking points by reason,
role and stage, the next step with its deadline, and names where ids would be."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schemas.commands import Channel, DispatchTouch
from services.notifier.render import JinjaRenderer
from services.orchestrator.domain.reminder_story import (
    AccountPicture,
    Colleague,
    StoryLine,
    StoryPolicy,
    ago,
    stored_lines,
    story_variables,
    when_words,
)
from services.orchestrator.domain.views import AccountView, ContactView, ReminderNote, StoredTouch
from services.orchestrator.touch_commands import command
from trellis.message_templates import DEFAULT_TEMPLATES_DIR, load_templates

NOW = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("before", "words"),
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(minutes=4), "4 minutes ago"),
        (timedelta(hours=3, minutes=59), "3 hours ago"),
        (timedelta(hours=30), "yesterday"),
        (timedelta(days=75), "75 days ago"),
        (-timedelta(minutes=5), "just now"),  # a clock slightly ahead is not the future
    ],
)
def test_ago_reads_like_a_person_would_say_it(before: timedelta, words: str) -> None:
    assert ago(NOW - before, NOW) == words


def test_a_fresh_request_is_told_in_minutes_and_a_late_one_with_its_date() -> None:
    assert when_words(NOW - timedelta(minutes=4), NOW, late=False) == "4 minutes ago"
    assert when_words(NOW - timedelta(days=75), NOW, late=True) == (
        "on 12 Sep, 75 days ago — arrived late"
    )
    last_year = NOW - timedelta(days=400)
    assert when_words(last_year, NOW, late=False) == "on 22 Oct 2025, 400 days ago"


def _story(at: datetime, noticed: datetime, **kw: object) -> dict[str, object]:
    defaults: dict[str, object] = {
        "reason": "demo_requested", "who": "Ivan Petrov", "first": "Ivan", "stage": "sql",
        "role": "finance", "evidence": [{"said": "requested a demo", "at": at.isoformat()}],
        "stored_points": ["Confirm the use case"], "noticed": noticed, "due": NOW, "now": NOW,
    }  # fmt: skip
    return story_variables(**(defaults | kw))  # type: ignore[arg-type]


def test_a_backfilled_two_month_old_demo_request_is_told_as_late_with_its_date() -> None:
    at = NOW - timedelta(days=75)
    story = _story(at, noticed=NOW - timedelta(minutes=2))
    assert story["late"] is True
    assert (
        story["happened"] == "Ivan Petrov requested a demo on 12 Sep, 75 days ago — arrived late."
    )
    assert story["evidence"] == ["Requested a demo on 12 Sep, 75 days ago — arrived late"]
    assert "Acknowledge the wait: this was 75 days ago" in story["talking_points"]  # type: ignore[operator]


def test_a_demo_request_made_minutes_ago_is_fresh() -> None:
    story = _story(NOW - timedelta(minutes=4), noticed=NOW - timedelta(minutes=3))
    assert story["late"] is False
    assert story["happened"] == "Ivan Petrov requested a demo 4 minutes ago."


def test_the_plan_sets_the_lateness_threshold() -> None:
    at = NOW - timedelta(hours=30)
    assert _story(at, noticed=NOW)["late"] is True  # the default: 24 hours
    lenient = StoryPolicy(stale_after=timedelta(hours=48))
    assert _story(at, noticed=NOW, policy=lenient)["late"] is False


def test_talking_points_follow_the_plan_then_the_role_and_the_stage() -> None:
    story = _story(NOW, NOW)
    assert story["talking_points"] == [
        "Confirm the use case",
        "Bring pricing, ROI and the payment terms they will ask about",
        "Qualify timeline, budget and who else decides",
    ]
    plan = StoryPolicy(talking_points={"demo_requested": ("Ask which team asked",)})
    chosen = _story(NOW, NOW, role="technical", stage="mql", policy=plan)["talking_points"]
    assert chosen == [
        "Ask which team asked",
        "Offer a technical deep-dive: integration, security and data questions",
        "They are reading proof content: offer a customer story like theirs",
    ]


def test_the_next_step_has_a_deadline_in_the_reps_zone() -> None:
    story = _story(NOW, NOW, policy=StoryPolicy(rep_zone=BERLIN))
    assert story["next_step"] == "Call Ivan to book the demo by Thu 26 Nov, 16:00 (your time)"
    assert _story(NOW, NOW, reason="nps_detractor")["next_step"] == (
        "Call Ivan to listen to what went wrong by Fri 27 Nov, 14:00 (UTC)"
    )


def test_colleagues_and_recent_engagements_join_the_story() -> None:
    picture = AccountPicture(
        score=42.0, covered=("finance",), missing=("technical",),
        colleagues=(Colleague("Ana Ruiz", "technical", "mql"),
                    Colleague("bo@x.example", None, None)),
        recent=(StoryLine("viewed /pricing", NOW - timedelta(days=2)),),
    )  # fmt: skip
    story = _story(NOW - timedelta(minutes=4), NOW, picture=picture)
    assert story["colleagues"] == ["Ana Ruiz (technical, mql)", "bo@x.example"]
    assert story["evidence"] == [
        "Requested a demo 4 minutes ago",
        "Viewed /pricing on 24 Nov, 2 days ago",
    ]


def test_stored_evidence_reads_old_strings_and_new_items() -> None:
    at = NOW.isoformat()
    assert stored_lines(
        ["old words", {"said": "did x", "at": at}, {"said": "y", "at": "bad"}, 3]
    ) == [StoryLine("old words"), StoryLine("did x", NOW), StoryLine("y")]


NAMELESS = ContactView(id="c_8f2e41aa", account_id="a_5df3c06ab8", stage="sql", role="finance")
NAMELESS_ACCOUNT = AccountView(id="a_5df3c06ab8", stage="mql")
IDS = ("c_8f2e41aa", "a_5df3c06ab8", "r_77aa19", "t_call_1")


def _reminder_touch(template: str) -> DispatchTouch:
    note = ReminderNote(
        id="r_77aa19", rep="rep@vendor.example", reason="demo_requested",
        evidence=[{"said": "requested a demo", "at": (NOW - timedelta(days=1)).isoformat()}],
        talking_points=["Book a slot"], created_at=NOW,
    )  # fmt: skip
    stored = StoredTouch(
        id="t_call_1", contact_id=NAMELESS.id, account_id=NAMELESS_ACCOUNT.id,
        channel="rep_call_reminder", template_id=template, stage="sql",
        sequence_step="reminder/demo_requested", due_at=NOW,
    )  # fmt: skip
    cmd = command(
        stored, "rep@vendor.example", lambda _: None, NAMELESS, NAMELESS_ACCOUNT, note, NOW
    )
    base = "https://ops.example"
    links = {"contact_url": f"{base}/ui/contacts/{NAMELESS.id}",
             "account_url": f"{base}/ui/accounts/{NAMELESS_ACCOUNT.id}",
             "ack_url": f"{base}/v1/reminders/r_77aa19/acknowledge?token=x"}  # fmt: skip
    cmd.variables.update(links)
    return cmd


REMINDER_TEMPLATES = sorted(
    t
    for t in load_templates(DEFAULT_TEMPLATES_DIR)
    if t.startswith("reminders/") or t == "rep_reminder"
)


@pytest.mark.parametrize("template", REMINDER_TEMPLATES)
def test_no_reminder_shows_an_internal_id_where_a_name_belongs(template: str) -> None:
    message = JinjaRenderer().render_touch(_reminder_touch(template))
    for part in (message.subject, message.text, message.html):
        shown = re.sub(r"https?://\S+|<[^>]*>", " ", part)  # links may carry ids; words may not
        assert not [i for i in IDS if i in shown], (template, shown)
    assert "an account without a name" in message.subject + message.text
    assert "a contact without a name" in message.text.lower()
    assert Channel.REP_CALL_REMINDER.value not in message.text


def test_a_named_contact_and_account_are_called_by_their_names() -> None:
    touch = _reminder_touch("reminders/nps_detractor")
    touch.variables["contact"] |= {"label": "Ivan Petrov"}
    touch.variables["account"] |= {"label": "Globex"}
    message = JinjaRenderer().render_touch(touch)
    assert message.subject == "Detractor alert: Ivan Petrov at Globex"


def test_an_include_of_a_part_that_does_not_exist_is_a_template_problem() -> None:
    from trellis.message_templates import Template, template_problems

    shared = Template("s", "shared text", "<p>shared</p>")
    using = Template("x", '{% include "parts/shared.text" %}', '{% include "parts/nope.html" %}')
    known = {"parts/shared": shared, "x": using}
    assert template_problems("x", using, known) == ["x (html): no template part 'parts/nope.html'"]


def test_each_template_and_its_shared_part_are_compiled_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.notifier.render import BoundedSandbox

    compiled: list[str | None] = []
    original = BoundedSandbox.compile

    def counting(self: BoundedSandbox, source: Any, name: Any = None, *a: Any, **kw: Any) -> Any:
        compiled.append(name)
        return original(self, source, name, *a, **kw)

    monkeypatch.setattr(BoundedSandbox, "compile", counting)
    renderer, touch = JinjaRenderer(), _reminder_touch("reminders/demo_requested")
    first = renderer.render_touch(touch)
    once = len(compiled)
    assert once == 5  # subject, text, html, and the two parts they include
    for _ in range(3):
        assert renderer.render_touch(touch) == first
    assert len(compiled) == once
