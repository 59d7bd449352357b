"""Marketing email written as bytes and sent over pooled connections (aiosmtpd): a refused
recipient is a permanent failure, a greylisted one a retryable failure, and the pool goes on
delivering on a fresh connection after either."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.commands import Channel, DispatchTouch
from services.notifier.channels.base import Failed, Sent
from services.notifier.channels.email import SmtpConfig, SmtpEmailSender
from services.notifier.channels.smtp_pool import SmtpConnectionPool
from services.notifier.render import RenderedMessage
from services.notifier.unsubscribe import UnsubscribeSigner
from tests.integration.notifier_servers import GREYLISTED, REFUSED, smtp_server

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
MESSAGE = RenderedMessage("Your guide", "Hello", "<p>Hello</p>")


def touch(touch_id: str, to: str) -> DispatchTouch:
    return DispatchTouch(
        touch_id=touch_id, contact_id="c1", channel=Channel.EMAIL, template_id="generic",
        stage="engaged", to=to, decided_at=NOW, variables={},
    )  # fmt: skip


async def test_refusals_fail_with_their_kind_and_the_pool_keeps_delivering() -> None:
    async with smtp_server() as (catcher, port):
        config = SmtpConfig("127.0.0.1", port, "Trellis <nurture@trellis.test>")
        async with SmtpConnectionPool(config, size=1) as pool:
            sender = SmtpEmailSender(config, UnsubscribeSigner(b"k", "https://t.test/u"), pool=pool)
            first = await sender.send(touch("t-1", "ana@x.example"), MESSAGE)
            refused = await sender.send(touch("t-2", REFUSED), MESSAGE)
            greylisted = await sender.send(touch("t-3", GREYLISTED), MESSAGE)
            last = await sender.send(touch("t-4", "bo@x.example"), MESSAGE)
    assert isinstance(first, Sent) and isinstance(last, Sent)
    assert isinstance(refused, Failed) and not refused.retryable
    assert refused.detail.startswith("550")
    assert isinstance(greylisted, Failed) and greylisted.retryable
    assert greylisted.detail.startswith("451")
    assert [m["X-Trellis-Touch-Id"] for m in catcher.messages] == ["t-1", "t-4"]
    assert pool.opened == 3, "a connection is dropped after each refusal, reused otherwise"
    [ana] = catcher.by_touch("t-1")
    assert ana["Message-ID"] == first.provider_id
    assert ana["List-Unsubscribe"].strip().startswith("<https://t.test/u?token=")
    assert str(ana["From"]) == "Trellis <nurture@trellis.test>"


async def test_lines_starting_with_a_period_arrive_as_written() -> None:
    """The pooled transaction writes the message itself: RFC 5321's dot-stuffing is its job
    (a line of just "." would otherwise end the message early, and ".x" would lose its dot)."""
    text = ".starts with a dot\n.\n..two dots\nend"
    async with smtp_server() as (catcher, port):
        config = SmtpConfig("127.0.0.1", port, "Trellis <nurture@trellis.test>")
        async with SmtpConnectionPool(config, size=1) as pool:
            sender = SmtpEmailSender(config, UnsubscribeSigner(b"k", "https://t.test/u"), pool=pool)
            message = RenderedMessage("Dots", text, "<p>.x</p>")
            sent = await sender.send(touch("t-dots", "ana@x.example"), message)
            after = await sender.send(touch("t-next", "bo@x.example"), MESSAGE)
    assert isinstance(sent, Sent) and isinstance(after, Sent)
    [got] = catcher.by_touch("t-dots")
    plain, html = (part.get_content() for part in got.iter_parts())
    assert plain == text.replace("\n", "\r\n") + "\r\n"
    assert html.strip() == "<p>.x</p>"
    assert pool.opened == 1, "the transaction ended cleanly: the connection was reused"
