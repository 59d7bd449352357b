"""The notifier sends a rep reminder on the rep's channel from the directory (``rep_channel``),
else on the configured default; an unknown or unconfigured channel falls back, never fails."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.commands import Channel, DispatchTouch
from services.notifier.channels.base import SendResult, Sent
from services.notifier.render import RenderedMessage
from services.notifier.senders import RepReminderRouter


class Recording:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[str] = []

    async def send(self, touch: DispatchTouch, message: RenderedMessage) -> SendResult:
        self.sent.append(touch.touch_id)
        return Sent(provider_id=f"{self.name}:{touch.touch_id}")


def _touch(touch_id: str, **variables: str) -> DispatchTouch:
    return DispatchTouch(
        touch_id=touch_id, contact_id="c1", channel=Channel.REP_CALL_REMINDER,
        template_id="reminders/demo_requested", stage="sql", to="rep@x.example",
        variables=variables, marketing=False, decided_at=datetime(2026, 11, 18, tzinfo=UTC),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "email"),
        ({"rep_channel": "slack"}, "slack"),
        ({"rep_channel": "webhook"}, "email"),  # not configured here: the default
        ({"rep_channel": "pager"}, "email"),
    ],
)
async def test_the_reps_channel_wins_when_it_is_configured(
    variables: dict[str, str], expected: str
) -> None:
    email, slack = Recording("email"), Recording("slack")
    router = RepReminderRouter({"email": email, "slack": slack}, "email")
    result = await router.send(_touch("t1", **variables), RenderedMessage("s", "t", "<p>h</p>"))
    assert result == Sent(provider_id=f"{expected}:t1")
    assert {"email": email.sent, "slack": slack.sent}[expected] == ["t1"]
    assert len(email.sent) + len(slack.sent) == 1
