"""Which topic and key a dispatch command travels on: rep reminders on their own lane, keyed by
the rep; everything for the contact on the touches topic, keyed by the contact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.commands import Channel, DispatchTouch
from schemas.topics import ALL_TOPICS, MAIN_TOPICS, REMINDERS, TOUCHES, dead_letter
from services.notifier.main import lanes, readiness_of
from services.notifier.settings import NotifierSettings
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.touch_commands import topic_for


def _command(channel: Channel, to: str) -> DispatchTouch:
    return DispatchTouch(
        touch_id="t-1", contact_id="c-42", channel=channel, template_id="generic",
        stage="sql", to=to, decided_at=datetime(2026, 11, 18, 12, tzinfo=UTC),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("channel", "to", "lane"),
    [
        (Channel.EMAIL, "ana@acme.example", (TOUCHES, b"c-42")),
        (Channel.SMS, "+15551230001", (TOUCHES, b"c-42")),
        (Channel.REP_CALL_REMINDER, "rep@vendor.example", (REMINDERS, b"rep@vendor.example")),
        (Channel.REP_EMAIL_REMINDER, "rep@vendor.example", (REMINDERS, b"rep@vendor.example")),
    ],
)
def test_a_command_travels_on_its_channels_lane_with_its_key(
    channel: Channel, to: str, lane: tuple[str, bytes]
) -> None:
    assert topic_for(_command(channel, to)) == lane


def test_every_reminder_channel_of_the_domain_goes_to_the_reminders_lane() -> None:
    for channel in TouchChannel:
        topic, _ = topic_for(_command(Channel(channel.value), "x@y.example"))
        assert (topic == REMINDERS) is channel.is_reminder


def test_the_reminders_lane_and_its_dead_letters_are_created_with_the_others() -> None:
    assert REMINDERS in MAIN_TOPICS
    assert (
        dead_letter(REMINDERS) == "trellis.reminders.v1.dlq"
        and dead_letter(REMINDERS) in ALL_TOPICS
    )


async def test_the_notifier_is_ready_only_when_both_lanes_are_and_says_which_is_not() -> None:
    touches, reminders = lanes(NotifierSettings(env="test", notifier_group="n"))
    assert (touches.topic, touches.group) == (TOUCHES, "n")
    assert (reminders.topic, reminders.group) == (REMINDERS, "n-reminders")
    problems = await readiness_of([touches, reminders])()
    assert problems == {"consumer": "starting; reminders: starting"}
