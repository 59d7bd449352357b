"""The directly written marketing email reads, to a mail parser, exactly as the stdlib's does;
values it cannot write plainly are left to the stdlib builder."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from schemas.commands import Channel, DispatchTouch
from services.notifier.channels.email import build_email
from services.notifier.channels.mime import build_raw_email, envelope_sender
from services.notifier.render import RenderedMessage

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
SENDER = "Trellis <nurture@trellis.test>"
URL = "https://t.test/v1/unsubscribe?token=" + "a" * 60


def touch(to: str = "ana@x.example", touch_id: str = "t_0123abcd") -> DispatchTouch:
    return DispatchTouch(
        touch_id=touch_id, contact_id="c1", channel=Channel.EMAIL, template_id="generic",
        stage="engaged", to=to, decided_at=NOW, variables={},
    )  # fmt: skip


def parsed(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def read(msg: EmailMessage) -> dict[str, object]:
    """What a recipient's mail client sees: decoded headers and each part's decoded text."""
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    names = ["From", "To", "Subject", "Date", "X-Trellis-Touch-Id", "List-Unsubscribe",
             "List-Unsubscribe-Post", "MIME-Version"]  # fmt: skip
    return {
        **{n: str(msg[n]) if msg[n] is not None else None for n in names},
        "type": msg.get_content_type(),
        "text": text.get_content(),
        "html": html.get_content(),
        "defects": [d for part in msg.walk() for d in part.defects],
    }


MESSAGES = {
    "plain ascii": RenderedMessage("Your guide", "Hello Ana\nBye", "<p>Hello</p>"),
    "accents and emoji": RenderedMessage("Votre guide, Zoë 🌱", "Grüße\n", "<p>naïve</p>"),
    "a long subject": RenderedMessage("word " * 60, "x", "<p>x</p>"),
    "a long body line": RenderedMessage("s", "y" * 1500, "<p>" + "z" * 2000 + "</p>"),
    "crlf and a lone cr": RenderedMessage("s", "a\r\nb\rc\n", "<p>\r\n</p>"),
    "a dot line": RenderedMessage("s", "one\n.\ntwo\n", "."),
    "a form feed": RenderedMessage("s", "page\x0cbreak", "<p>x</p>"),
}


@pytest.mark.parametrize("message", MESSAGES.values(), ids=MESSAGES.keys())
@pytest.mark.parametrize("url", [URL, None], ids=["marketing", "no unsubscribe"])
def test_the_written_message_reads_as_the_stdlib_one(
    message: RenderedMessage, url: str | None
) -> None:
    raw = build_raw_email(touch(), message, SENDER, "trellis.test", url, NOW)
    assert raw is not None
    stdlib = build_email(touch(), message, SENDER, "trellis.test", url, NOW)
    on_the_wire = stdlib.as_bytes(policy=stdlib.policy.clone(linesep="\r\n"))  # as aiosmtplib
    assert read(parsed(raw.data)) == read(parsed(on_the_wire))
    assert parsed(raw.data)["Message-ID"] == raw.message_id
    assert all(len(line) <= 998 for line in raw.data.split(b"\r\n"))
    assert (raw.envelope_from, raw.recipient) == ("nurture@trellis.test", "ana@x.example")


def test_the_unsubscribe_url_is_never_encoded_or_split() -> None:
    raw = build_raw_email(touch(), MESSAGES["plain ascii"], SENDER, "trellis.test", URL, NOW)
    assert raw is not None
    assert f"List-Unsubscribe:\r\n <{URL}>\r\n".encode() in raw.data


@pytest.mark.parametrize(
    ("to", "subject", "sender", "url"),
    [
        ("ana@x.example", "Hi\r\nBcc: victim@y.example", SENDER, URL),
        ("ana@x.example\r\nBcc: v@y.example", "Hi", SENDER, URL),
        ("zoë@x.example", "Hi", SENDER, URL),
        ("Ana <ana@x.example>", "Hi", SENDER, URL),
        ("ana@x.example", "Hi", "Trellis, Inc. <n@trellis.test>", URL),
        ("ana@x.example", "Hi", "Zoë <n@trellis.test>", URL),
        ("ana@x.example", "Hi", SENDER, "https://t.test/u?x=a b"),
        ("ana@x.example", "Hi", SENDER, "https://t.test/" + "u" * 1000),
    ],
)
def test_anything_unusual_is_left_to_the_stdlib(
    to: str, subject: str, sender: str, url: str
) -> None:
    message = RenderedMessage(subject, "x", "<p>x</p>")
    assert build_raw_email(touch(to), message, sender, "trellis.test", url, NOW) is None


@pytest.mark.parametrize(
    ("sender", "address"),
    [
        ("n@trellis.test", "n@trellis.test"),
        ("<n@trellis.test>", "n@trellis.test"),
        ("Trellis Nurture <n@trellis.test>", "n@trellis.test"),
        ('"Trellis" <n@trellis.test>', None),
        ("Trellis <n@trellis.test> x", None),
    ],
)
def test_the_envelope_sender_is_the_from_address(sender: str, address: str | None) -> None:
    assert envelope_sender(sender) == address
