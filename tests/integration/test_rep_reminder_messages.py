"""A rep reminder as each channel carries it, against real servers: Slack (a local Web API and
incoming webhook that refuse what Slack refuses), the email's iCalendar invite through aiosmtpd
(strict RFC 5545 checks), and the signed webhook — each telling the story with names, never ids,
and each link once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import orjson
from icalendar import Calendar
from standardwebhooks import Webhook

from schemas.commands import DispatchTouch
from services.notifier.channels.base import Failed, Sent
from services.notifier.channels.email import SmtpConfig
from services.notifier.channels.rep_reminders import EmailReminderSender, WebhookReminderSender
from services.notifier.channels.slack import SlackBot, SlackReminderSender
from services.notifier.render import JinjaRenderer
from services.orchestrator.domain.views import AccountView, ContactView, ReminderNote, StoredTouch
from services.orchestrator.touch_commands import command
from tests.integration.notifier_servers import http_server, smtp_server
from tests.integration.slack_api import BOT_TOKEN, local_slack

NOW = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
BASE = "https://trellis.example"
RENDER = JinjaRenderer()
IVAN = ContactView(
    id="c_8f2e41aa", account_id="a_5df3c06ab8", email="ivan.2@co3.example", stage="sql",
    role="finance", timezone="Europe/Berlin",
    traits={"first_name": "Ivan", "last_name": "Petrov", "title": "CFO"},
)  # fmt: skip
GLOBEX = AccountView(id="a_5df3c06ab8", stage="mql", name="Globex", domain="globex.example")
LINKS = {
    "ack_url": f"{BASE}/v1/reminders/r_77/acknowledge?token=aaa.bbb",
    "snooze_url": f"{BASE}/v1/reminders/r_77/snooze?token=ccc.ddd",
    "contact_url": f"{BASE}/ui/contacts/c_8f2e41aa",
    "account_url": f"{BASE}/ui/accounts/a_5df3c06ab8",
}


def reminder(
    slack_id: str = "", zone: str = "", age: timedelta = timedelta(minutes=4)
) -> DispatchTouch:
    note = ReminderNote(
        id="r_77", rep="dana@vendor.example", reason="demo_requested",
        evidence=[{"said": "requested a demo", "at": (NOW - age).isoformat()}],
        talking_points=["Confirm the use case behind the demo request"], created_at=NOW,
    )  # fmt: skip
    stored = StoredTouch(
        id="r_77", contact_id=IVAN.id, account_id=GLOBEX.id, channel="rep_call_reminder",
        template_id="reminders/demo_requested", stage="sql",
        sequence_step="reminder/demo_requested", due_at=NOW,
    )  # fmt: skip
    cmd = command(stored, "dana@vendor.example", lambda _: "slack", IVAN, GLOBEX, note, NOW)
    cmd.variables.update(LINKS)
    cmd.variables["rep"] |= {"slack_id": slack_id, "timezone": zone}
    return cmd


def _urls(payload: dict[str, Any]) -> list[str]:
    return re.findall(r"https?://[^\s\"<>|]+", orjson.dumps(payload).decode())


async def test_a_bot_posts_to_the_reps_user_id_mentioning_them_with_each_link_once() -> None:
    touch = reminder(slack_id="U024BE7LH")
    async with local_slack() as slack, httpx.AsyncClient() as client:
        sender = SlackReminderSender(None, client, SlackBot(BOT_TOKEN, slack.api_url))
        result = await sender.send(touch, RENDER.render_touch(touch))
    assert isinstance(result, Sent) and result.provider_id.endswith("1700000000.000100")
    assert slack.refused == []
    [body] = slack.posted
    assert body["channel"] == "U024BE7LH"
    assert body["text"].startswith("<@U024BE7LH> Demo requested: Ivan Petrov at Globex")
    assert "<@U024BE7LH>" in body["blocks"][0]["text"]["text"]
    assert sorted(_urls(body)) == sorted(LINKS.values())  # each once: in a button, not in text
    shown = orjson.dumps(body).decode()
    assert "Ivan Petrov requested a demo 4 minutes ago" in shown
    assert "c_8f2e41aa" not in shown.replace(LINKS["contact_url"], "")


async def test_a_rep_without_a_slack_id_is_named_in_the_shared_channel() -> None:
    touch = reminder()
    async with local_slack() as slack, httpx.AsyncClient() as client:
        sender = SlackReminderSender(slack.webhook_url, client)
        result = await sender.send(touch, RENDER.render_touch(touch))
    assert isinstance(result, Sent) and slack.refused == []
    [body] = slack.hooked
    assert body["text"].startswith("*For Dana* Demo requested") and "<@" not in body["text"]
    assert sorted(_urls(body)) == sorted(LINKS.values())


async def test_a_refusal_from_the_slack_api_is_a_failure_not_a_send() -> None:
    touch = reminder(slack_id="U024BE7LH")
    async with local_slack() as slack, httpx.AsyncClient() as client:
        wrong = SlackReminderSender(None, client, SlackBot("xoxb-wrong", slack.api_url))
        result = await wrong.send(touch, RENDER.render_touch(touch))
    assert isinstance(result, Failed) and not result.retryable and result.detail == "invalid_auth"


def _strict_address(value: Any, name: str) -> str:
    """RFC 5545 3.3.3 / 3.8.4.1: a cal-address is a URI (here ``mailto:``), CN a parameter."""
    uri = str(value)
    assert re.fullmatch(r"mailto:[^\s<>@]+@[^\s<>@]+\.[a-z]+", uri), uri
    assert value.params.get("CN") == name
    return uri


async def test_the_invite_passes_a_strict_parse_at_the_reps_local_time() -> None:
    touch = reminder(zone="America/Chicago")
    config = SmtpConfig(
        host="127.0.0.1", port=0, sender="Trellis reminders <reminders@trellis.test>"
    )
    async with smtp_server() as (catcher, port):
        sender = EmailReminderSender(SmtpConfig(**{**config.__dict__, "port": port}), lambda: NOW)
        assert isinstance(await sender.send(touch, RENDER.render_touch(touch)), Sent)
    [msg] = catcher.messages
    [part] = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert isinstance(msg, EmailMessage) and part.get_param("method") == "REQUEST"
    raw = part.get_payload(decode=True)
    assert isinstance(raw, bytes)
    lines = raw.split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)  # RFC 5545 3.1: folded at 75 octets
    cal = Calendar.from_ical(raw)
    assert Calendar.from_ical(cal.to_ical()).to_ical() == cal.to_ical()  # a clean round trip
    assert (cal["VERSION"], cal["METHOD"]) == ("2.0", "REQUEST")
    [event] = cal.walk("VEVENT")
    for required in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SEQUENCE", "SUMMARY", "ORGANIZER"):
        assert required in event, required
    assert (
        _strict_address(event["ORGANIZER"], "Trellis reminders") == "mailto:reminders@trellis.test"
    )
    attendee = event["ATTENDEE"]
    assert _strict_address(attendee, "Dana") == "mailto:dana@vendor.example"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT" and attendee.params["RSVP"] == "TRUE"
    start = event.decoded("DTSTART")
    assert event["DTSTART"].params["TZID"] == "America/Chicago"
    assert start == NOW and start.utcoffset() == timedelta(hours=-6)  # 08:00 in Chicago
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["America/Chicago"]
    description = str(event["DESCRIPTION"])
    assert "Ivan Petrov requested a demo 4 minutes ago." in description
    assert str(event["SUMMARY"]) == "Demo requested: Ivan Petrov at Globex"


async def test_the_webhook_payload_carries_the_story() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    touch = reminder(age=timedelta(days=75))
    async with http_server() as sink, httpx.AsyncClient() as client:
        sender = WebhookReminderSender(f"{sink.base_url}/webhook", secret, client)
        assert isinstance(await sender.send(touch, RENDER.render_touch(touch)), Sent)
    [(headers, body)] = sink.webhooks
    data = Webhook(secret).verify(body, headers)["data"]
    assert data["subject"] == "Late demo request: Ivan Petrov at Globex"
    story = data["variables"]
    assert story["happened"] == (
        "Ivan Petrov requested a demo on 12 Sep, 75 days ago — arrived late."
    )
    assert story["late"] is True and story["next_step"].startswith("Call Ivan to book the demo")


async def test_with_a_bot_a_rep_without_a_slack_id_is_named_in_the_fallback_channel() -> None:
    touch = reminder()
    async with local_slack() as slack, httpx.AsyncClient() as client:
        bot = SlackBot(BOT_TOKEN, slack.api_url, fallback_channel="C0SALES")
        result = await SlackReminderSender(slack.webhook_url, client, bot).send(
            touch, RENDER.render_touch(touch)
        )
    assert isinstance(result, Sent) and slack.refused == [] and slack.hooked == []
    [body] = slack.posted
    assert body["channel"] == "C0SALES" and body["text"].startswith("*For Dana* Demo requested")
