"""RFC 8058 one-click unsubscribe as mailbox providers read it: the raw bytes an SMTP server
(aiosmtpd) received, not a parsed message.

Found by this test: the stdlib folded the ``<https://...?token=...>`` value, longer than 78
characters, into RFC 2047 encoded-words (``=?utf-8?q?=3Chttps=3A//...?=``); a parser decodes
them back, so tests on parsed messages passed, but Gmail and Yahoo look for a literal ``<https:``
and one-click unsubscribe did not work.
"""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.commands import Channel, DispatchTouch
from services.notifier.channels.base import Failed, Sent
from services.notifier.channels.email import SmtpConfig, SmtpEmailSender
from services.notifier.channels.rep_reminders import EmailReminderSender
from services.notifier.channels.smtp_pool import SmtpConnectionPool
from services.notifier.render import JinjaRenderer
from services.notifier.unsubscribe import UnsubscribeSigner
from tests.integration.notifier_servers import smtp_server

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SIGNER = UnsubscribeSigner(secret=b"s3cret", base_url="https://trellis.test/v1/unsubscribe")
RENDER = JinjaRenderer()
ONE_CLICK = re.compile(rb"^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", re.M)
# The field as written: on one line, or folded once right after the colon; the URL unbroken.
LITERAL = re.compile(rb"^List-Unsubscribe:(?:\r\n)? <(https://[!-=?-~]+)>\r\n(?![ \t])", re.M)


def touch(contact_id: str = "c-42", **kw: Any) -> DispatchTouch:
    return DispatchTouch(
        touch_id=kw.pop("touch_id", "t-1"),
        contact_id=contact_id,
        account_id="a-1",
        channel=kw.pop("channel", Channel.EMAIL),
        template_id=kw.pop("template_id", "generic"),
        stage="engaged",
        to=kw.pop("to", "ana@acme.test"),
        variables={"subject": "Your guide", "body": "Hello"} | kw.pop("variables", {}),
        decided_at=NOW,
        **kw,
    )


def header_block(raw: bytes) -> bytes:
    head, separator, _ = raw.partition(b"\r\n\r\n")
    assert separator, raw[:500]
    return head + b"\r\n"


def field(head: bytes, name: bytes) -> bytes:
    """The raw field with its continuation lines (empty when absent)."""
    found = re.search(rb"^" + name + rb":.*?\r\n(?:[ \t].*?\r\n)*", head, re.M)
    return found.group(0) if found else b""


@pytest.mark.parametrize("pooled", [False, True], ids=["own connection", "pooled connection"])
@pytest.mark.parametrize("contact_id", ["c-42", "c-" + "9" * 400], ids=["short id", "long id"])
async def test_marketing_email_carries_a_literal_one_click_unsubscribe_url_on_the_wire(
    pooled: bool, contact_id: str
) -> None:
    t = touch(contact_id)
    async with AsyncExitStack() as stack:
        catcher, port = await stack.enter_async_context(smtp_server())
        config = SmtpConfig(host="127.0.0.1", port=port, sender="Trellis <nurture@trellis.test>")
        pool = await stack.enter_async_context(SmtpConnectionPool(config)) if pooled else None
        sender = SmtpEmailSender(config, SIGNER, clock=lambda: NOW, pool=pool)
        result = await sender.send(t, RENDER.render_touch(t))
    assert isinstance(result, Sent)
    [raw] = catcher.raw
    head = header_block(raw)
    written = field(head, b"List-Unsubscribe")
    assert b"=?" not in written, written
    found = LITERAL.search(head)
    assert found is not None and found.group(0) == written, written
    assert found.group(1).decode() == SIGNER.url(contact_id, NOW)
    assert ONE_CLICK.search(head), head.decode()
    assert all(len(line) <= 998 for line in head.split(b"\r\n")), "line over RFC 5322's limit"
    assert written.count(b"\r\n") == 2  # folded once: "List-Unsubscribe:" / " <https://...>"


async def test_rep_reminders_and_transactional_email_carry_no_unsubscribe_headers() -> None:
    call = touch(
        channel=Channel.REP_CALL_REMINDER,
        to="rep@vendor.test",
        touch_id="t-call",
        template_id="rep_reminder",
        marketing=False,
        variables={"reason": "Demo requested", "contact": {"name": "Ana"}},
    )
    receipt = touch(touch_id="t-receipt", marketing=False)
    async with smtp_server() as (catcher, port):
        config = SmtpConfig(host="127.0.0.1", port=port, sender="reminders@trellis.test")
        sent = [
            await EmailReminderSender(config, lambda: NOW).send(call, RENDER.render_touch(call)),
            await SmtpEmailSender(config, SIGNER, clock=lambda: NOW).send(
                receipt, RENDER.render_touch(receipt)
            ),
        ]
    assert all(isinstance(r, Sent) for r in sent), sent
    assert len(catcher.raw) == 2
    for raw in catcher.raw:
        assert b"\r\nList-Unsubscribe" not in header_block(raw)


async def test_an_unsubscribe_url_too_long_for_one_line_fails_the_touch_unsent() -> None:
    t = touch("c-" + "9" * 1000)
    async with smtp_server() as (catcher, port):
        config = SmtpConfig(host="127.0.0.1", port=port, sender="nurture@trellis.test")
        result = await SmtpEmailSender(config, SIGNER, clock=lambda: NOW).send(
            t, RENDER.render_touch(t)
        )
    assert isinstance(result, Failed) and not result.retryable, result
    assert "998" in result.detail
    assert catcher.raw == []
