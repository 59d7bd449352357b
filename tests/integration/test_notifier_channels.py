"""Channel adapters against real servers: aiosmtpd, and a local HTTP server speaking the Twilio
Messages API and a Standard Webhooks receiver (Slack: test_rep_reminder_messages.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from icalendar import Calendar
from standardwebhooks import Webhook

from schemas.commands import Channel, DispatchTouch
from services.ingest.callback_tokens import check, split_status, status_signer
from services.notifier.channels.base import Failed, Sent
from services.notifier.channels.email import SmtpConfig, SmtpEmailSender
from services.notifier.channels.rep_reminders import (
    EmailReminderSender,
    WebhookReminderSender,
)
from services.notifier.channels.sms import SmsConfig, TwilioSmsSender
from services.notifier.render import JinjaRenderer
from services.notifier.unsubscribe import UnsubscribeSigner
from tests.integration.notifier_servers import (
    GREYLISTED,
    REFUSED,
    SID,
    TOKEN,
    http_server,
    smtp_server,
)
from trellis.broker import free_port

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SIGNER = UnsubscribeSigner(secret=b"s3cret", base_url="https://trellis.test/v1/unsubscribe")
RENDER = JinjaRenderer()


def touch(channel: Channel = Channel.EMAIL, to: str = "ana@acme.test", **kw: Any) -> DispatchTouch:
    variables = {"subject": "Your guide", "body": "Hello <Ana> & team"} | kw.pop("variables", {})
    return DispatchTouch(
        touch_id=kw.pop("touch_id", "t-1"),
        contact_id="c-42",
        account_id="a-1",
        channel=channel,
        template_id=kw.pop("template_id", "generic"),
        stage="engaged",
        to=to,
        variables=variables,
        decided_at=NOW,
        **kw,
    )


def email_sender(port: int) -> SmtpEmailSender:
    config = SmtpConfig(host="127.0.0.1", port=port, sender="Trellis <nurture@trellis.test>")
    return SmtpEmailSender(config, SIGNER, clock=lambda: NOW)


async def test_marketing_email_is_multipart_with_one_click_unsubscribe() -> None:
    async with smtp_server() as (catcher, port):
        t = touch()
        result = await email_sender(port).send(t, RENDER.render_touch(t))
    assert isinstance(result, Sent)
    [msg] = catcher.messages
    assert msg["Message-ID"] == result.provider_id
    assert msg["Subject"] == "Your guide"
    assert msg["To"] == "ana@acme.test"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = msg["List-Unsubscribe"].strip().strip("<>")  # parsers keep the fold's space
    assert url.startswith("https://trellis.test/v1/unsubscribe?token=")
    token = parse_qs(urlparse(url).query)["token"][0]
    assert SIGNER.verify(token, NOW) == "c-42"
    assert SIGNER.verify(token, NOW + timedelta(days=61)) is None
    assert SIGNER.verify(token[:-2] + "xx", NOW) is None
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().strip() == "Hello <Ana> & team"
    assert html.get_content().strip() == "<p>Hello &lt;Ana&gt; &amp; team</p>"


async def test_transactional_email_has_no_unsubscribe_header() -> None:
    async with smtp_server() as (catcher, port):
        t = touch(marketing=False)
        result = await email_sender(port).send(t, RENDER.render_touch(t))
    assert isinstance(result, Sent)
    assert catcher.messages[0]["List-Unsubscribe"] is None


@pytest.mark.parametrize(("to", "retryable"), [(REFUSED, False), (GREYLISTED, True)])
async def test_refused_recipient_is_a_failure_not_a_send(to: str, retryable: bool) -> None:
    async with smtp_server() as (catcher, port):
        t = touch(to=to)
        result = await email_sender(port).send(t, RENDER.render_touch(t))
    assert isinstance(result, Failed)
    assert result.retryable is retryable
    assert catcher.messages == []


async def test_unreachable_smtp_server_is_retryable() -> None:
    t = touch()
    result = await email_sender(free_port()).send(t, RENDER.render_touch(t))
    assert isinstance(result, Failed) and result.retryable


async def test_call_reminder_email_carries_an_icalendar_request() -> None:
    call_at = "2026-03-03T10:00:00+00:00"
    t = touch(
        Channel.REP_CALL_REMINDER,
        to="rep@vendor.test",
        touch_id="t-call",
        template_id="rep_reminder",
        marketing=False,
        variables={"reason": "Demo requested", "call_at": call_at, "contact": {"name": "Ana"}},
    )
    config = SmtpConfig(host="127.0.0.1", port=0, sender="reminders@trellis.test")
    async with smtp_server() as (catcher, port):
        sender = EmailReminderSender(SmtpConfig(**{**config.__dict__, "port": port}), lambda: NOW)
        result = await sender.send(t, RENDER.render_touch(t))
    assert isinstance(result, Sent)
    [msg] = catcher.messages
    assert msg["Subject"] == "Follow up: Ana at an account without a name"
    [part] = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "REQUEST"
    cal = Calendar.from_ical(part.get_content())
    assert cal["METHOD"] == "REQUEST"
    [event] = cal.walk("VEVENT")
    assert str(event["UID"]) == "t-call@trellis.test"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTART") == datetime.fromisoformat(call_at)
    assert str(event["ATTENDEE"]) == "mailto:rep@vendor.test"


@pytest.mark.parametrize(
    ("to", "outcome"),
    [
        ("+15551230001", "sent"),
        ("+15551230429", "retryable"),
        ("+15551230500", "retryable"),
        ("+15550021610", "permanent"),
    ],
)
async def test_sms_maps_provider_answers(to: str, outcome: str) -> None:
    async with http_server() as sink, httpx.AsyncClient() as client:
        config = SmsConfig(sink.base_url, SID, TOKEN, "+15559990000", "https://t.test/cb", b"k")
        t = touch(Channel.SMS, to=to)
        result = await TwilioSmsSender(config, client).send(t, RENDER.render_touch(t))
    if outcome == "sent":
        assert isinstance(result, Sent) and result.provider_id.startswith("SM")
        [sms] = sink.sms
        callback = sms.pop("StatusCallback")
        assert sms == {"To": to, "From": "+15559990000", "Body": "Hello <Ana> & team"}
        base, _, token = callback.partition("?token=")
        assert base == "https://t.test/cb"
        # ingest's check accepts it and reads back which touch the status is about
        checked = check(status_signer(b"k"), token, datetime.now(UTC))
        assert checked.value is not None and split_status(checked.value) == (
            t.contact_id,
            t.touch_id,
        )
        assert check(status_signer(b"other"), token, datetime.now(UTC)).value is None
    else:
        assert isinstance(result, Failed)
        assert result.retryable is (outcome == "retryable")
        assert sink.sms == []


async def test_sms_with_wrong_credentials_is_permanent() -> None:
    async with http_server() as sink, httpx.AsyncClient() as client:
        config = SmsConfig(sink.base_url, SID, "wrong", "+15559990000")
        t = touch(Channel.SMS, to="+15551230001")
        result = await TwilioSmsSender(config, client).send(t, RENDER.render_touch(t))
    assert isinstance(result, Failed) and not result.retryable


REMINDER = {
    "reason": "Asked for a demo",
    "evidence": ["pricing page x3", "demo form"],
    "ack_url": "https://trellis.test/r/1/ack",
    "snooze_url": "https://trellis.test/r/1/snooze",
}


async def test_webhook_reminder_is_signed_per_standard_webhooks() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    async with http_server() as sink, httpx.AsyncClient() as client:
        t = touch(
            Channel.REP_EMAIL_REMINDER,
            to="rep@vendor.test",
            template_id="rep_reminder",
            variables=REMINDER,
        )
        sender = WebhookReminderSender(f"{sink.base_url}/webhook", secret, client)
        result = await sender.send(t, RENDER.render_touch(t))
    assert isinstance(result, Sent)
    [(headers, body)] = sink.webhooks
    payload = Webhook(secret).verify(body, headers)
    assert payload["data"]["touch_id"] == "t-1"
    assert headers["webhook-id"] == "t-1"
