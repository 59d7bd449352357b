"""Marketing email written straight to bytes, for the common case.

The stdlib's ``EmailMessage`` (policy ``default``) parses every header as it is set and refolds
it when flattened: ~3.5 ms of CPU per message here, most of the notifier's cost. The message's
shape is fixed (a few headers, ``multipart/alternative`` with a text and an HTML part), so it is
written directly, ~50 us. Only values known to need no structured handling take this path:
plain ASCII addresses, header values without control characters, a URL without white space.
``build_raw_email`` answers ``None`` for anything else and the caller uses the stdlib builder,
which encodes or refuses it (a line break in a header is refused there, as before).
"""

from __future__ import annotations

import base64
import functools
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, make_msgid, parseaddr

from schemas.commands import DispatchTouch
from services.notifier.render import RenderedMessage

CRLF = "\r\n"
FOLD_AT = 78  # the stdlib policy's max_line_length: the unsubscribe URL moves to its own line
MAX_LINE = 998  # RFC 5322's hard limit, CRLF excluded
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")
_DISPLAY_NAME = re.compile(r"[A-Za-z0-9 ._-]*")  # needs no quoting or encoding
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_SEVEN_BIT = re.compile(r"[\x20-\x7e\t\r\n]*")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class RawEmail:
    """A message as the SMTP server receives it, with its envelope."""

    envelope_from: str
    recipient: str
    message_id: str
    data: bytes


@functools.lru_cache(maxsize=64)
def envelope_sender(sender: str) -> str | None:
    """The address of a ``From`` value this module can write as it is, else ``None`` (cached:
    the sender is a setting, and ``parseaddr`` cost more than the rest of the message)."""
    name, addr = parseaddr(sender)
    plain = _DISPLAY_NAME.fullmatch(name) and _ADDRESS.fullmatch(addr)
    if not plain or sender.strip() not in (addr, f"{name} <{addr}>", f"<{addr}>"):
        return None
    return addr


@functools.lru_cache(maxsize=64)
def _plain_domain(domain: str) -> bool:
    """The sender's domain (a setting) written as it is in a Message-ID: checked once."""
    return _ADDRESS.fullmatch(f"x@{domain}") is not None


def build_raw_email(
    touch: DispatchTouch,
    message: RenderedMessage,
    sender: str,
    domain: str,
    unsubscribe_url: str | None,
    now: datetime,
) -> RawEmail | None:
    """The same message ``email.build_email`` makes, as bytes; ``None``: use that builder."""
    envelope_from = envelope_sender(sender)
    subject = _subject(message.subject)
    if envelope_from is None or subject is None or not _ADDRESS.fullmatch(touch.to):
        return None
    if not _PRINTABLE.fullmatch(touch.touch_id) or not _plain_domain(domain):
        return None
    message_id = make_msgid(idstring=touch.touch_id.replace("@", "_"), domain=domain)
    headers = [
        f"From: {sender.strip()}",
        f"To: {touch.to}",
        f"Subject: {subject}",
        f"Date: {_date(now.replace(microsecond=0))}",
        f"Message-ID: {message_id}",
        f"X-Trellis-Touch-Id: {touch.touch_id}",
    ]
    if unsubscribe_url is not None:
        if not _PRINTABLE.fullmatch(unsubscribe_url) or " " in unsubscribe_url:
            return None
        line = f"List-Unsubscribe: <{unsubscribe_url}>"
        headers.append(
            line if len(line) <= FOLD_AT else f"List-Unsubscribe:{CRLF} <{unsubscribe_url}>"
        )
        headers.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    head = CRLF.join(headers)
    if max(map(len, head.split(CRLF))) > MAX_LINE:
        return None
    boundary = f"=_{secrets.token_hex(16)}"
    text, html = _part("plain", message.text), _part("html", message.html)
    if boundary in text or boundary in html:  # never with random hex; checked all the same
        return None
    mime = (
        f'MIME-Version: 1.0{CRLF}Content-Type: multipart/alternative;{CRLF} boundary="{boundary}"'
    )
    head += CRLF + mime
    body = f"{CRLF}--{boundary}{CRLF}{text}{CRLF}--{boundary}{CRLF}{html}{CRLF}--{boundary}--{CRLF}"
    data = (head + CRLF + body).encode("ascii")
    return RawEmail(envelope_from, touch.to, message_id, data)


@functools.lru_cache(maxsize=4)
def _date(second: datetime) -> str:
    """``format_datetime`` cost a third of the message; a batch's messages share the second."""
    return format_datetime(second)


def _subject(subject: str) -> str | None:
    """ASCII as it is (folded by no one: under the hard line limit); other text as RFC 2047
    encoded words; control characters (a line break above all) are left to the stdlib."""
    if any(c < " " or c == "\x7f" for c in subject):
        return None
    if subject.isascii():
        return subject
    return Header(subject, "utf-8", header_name="Subject").encode(linesep=CRLF)


def _part(subtype: str, content: str) -> str:
    """One body part: 7bit when it is ASCII in short lines, else base64 (always safe)."""
    if not content.endswith("\n"):
        content += "\n"  # as ``set_content`` does
    lines = _LINE_BREAK.split(content)[:-1]  # content ends with a line break
    canonical = CRLF.join(lines) + CRLF  # text's line breaks are CRLF in every encoding
    if _SEVEN_BIT.fullmatch(content) and all(len(line) <= MAX_LINE for line in lines):
        cte, payload = "7bit", canonical
    else:
        encoded = base64.encodebytes(canonical.encode("utf-8")).decode("ascii")
        cte, payload = "base64", encoded.replace("\n", CRLF)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: {cte}{CRLF}{CRLF}{payload}"
    )
