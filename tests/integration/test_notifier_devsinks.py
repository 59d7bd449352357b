"""The dev default: the local SMTP catcher and SMS sink (``trellis dev-sinks``) take what the real
notifier senders send and leave every message on disk, as ``.eml`` and ``.json`` files."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

from schemas.commands import Channel, DispatchTouch
from services.notifier.channels.base import Sent
from services.notifier.devsinks import dev_env, running_dev_sinks, unconfigured
from services.notifier.render import JinjaRenderer
from services.notifier.senders import build_senders
from services.notifier.settings import NotifierSettings
from trellis.broker import free_port

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def touch(channel: Channel, to: str, touch_id: str) -> DispatchTouch:
    return DispatchTouch(
        touch_id=touch_id,
        contact_id="c-1",
        channel=channel,
        template_id="generic",
        stage="engaged",
        to=to,
        variables={"subject": "Welcome", "body": "Hello from the dev outbox"},
        decided_at=NOW,
    )


def dev_settings(data_dir: Path) -> NotifierSettings:
    return NotifierSettings(data_dir=data_dir, dev_smtp_port=free_port(), dev_sms_port=free_port())


def leftovers(folder: Path) -> list[Path]:
    return list(folder.rglob(".*.partial"))


async def test_messages_sent_through_the_dev_sinks_are_written_to_the_outbox(
    tmp_path: Path,
) -> None:
    settings = dev_settings(tmp_path)
    async with running_dev_sinks(settings) as sinks:
        # the notifier as `trellis dev` configures it: only the environment the sinks hand out
        pointed = NotifierSettings(
            data_dir=tmp_path,
            smtp_host=sinks.notifier_env()["TRELLIS_SMTP_HOST"],
            smtp_port=int(sinks.notifier_env()["TRELLIS_SMTP_PORT"]),
            sms_base_url=sinks.notifier_env()["TRELLIS_SMS_BASE_URL"],
        )
        async with httpx.AsyncClient() as http:
            senders = build_senders(pointed, http)
            render = JinjaRenderer()
            mail = touch(Channel.EMAIL, "ana@acme.test", "dev-email-1")
            sms = touch(Channel.SMS, "+15551234567", "dev-sms-1")
            sent_mail = await senders[Channel.EMAIL].send(mail, render.render_touch(mail))
            sent_sms = await senders[Channel.SMS].send(sms, render.render_touch(sms))

    assert isinstance(sent_mail, Sent) and isinstance(sent_sms, Sent)
    [eml] = list((tmp_path / "outbox").glob("*.eml"))
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "ana@acme.test"
    assert msg["Subject"] == "Welcome"
    assert msg["X-Trellis-Touch-Id"] == "dev-email-1"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_body(("html",)) is not None
    [record] = list((tmp_path / "outbox" / "sms").glob("*.json"))
    body = orjson.loads(record.read_bytes())
    assert body["to"] == "+15551234567"
    assert body["sid"] == sent_sms.provider_id
    assert "Hello from the dev outbox" in body["body"]
    assert not leftovers(tmp_path), "no half-written files left behind"


async def test_the_sinks_stand_in_only_for_providers_nobody_configured(tmp_path: Path) -> None:
    assert unconfigured(NotifierSettings(data_dir=tmp_path)) == (True, True)
    env = dev_env(NotifierSettings(dev_smtp_port=2525, dev_sms_port=8999))
    assert env == {
        "TRELLIS_SMTP_HOST": "127.0.0.1",
        "TRELLIS_SMTP_PORT": "2525",
        "TRELLIS_SMS_BASE_URL": "http://127.0.0.1:8999",
    }
    real_smtp = NotifierSettings(smtp_host="smtp.example.com")
    assert dev_env(real_smtp) == {"TRELLIS_SMS_BASE_URL": "http://127.0.0.1:8025"}
    both = NotifierSettings(smtp_port=587, sms_base_url="https://api.twilio.com")
    assert dev_env(both) == {}
