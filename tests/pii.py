"""Finds personal data (email addresses, phone numbers) in log lines, and captures every log
record at INFO or above while a test runs so it can be checked (docs/security.md, boundary 5).

The patterns aim at what our services could leak: any email address (also ``%40``-encoded) and
phone numbers in E.164 (``+14155550123``, ``%2B14155550123``, ``+44 20 7946 0958``) or the common
North American spellings (``(415) 555-0123``, ``415-555-0123``, ``415.555.0123``). They stay clear
of what logs are full of: timestamps, IPs and ports, offsets, hex ids and hashes. A bare run of
digits is not flagged (it is an offset or an epoch far more often than a phone number).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from trellis.logs import WARNINGS_ONLY

EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"
)
"""The last label is alphabetic: ``postgres@127.0.0.1`` in a DSN is a user at a host."""
E164 = re.compile(r"(?<![\w+%])(?:\+|%2B)\d[\d ().-]{6,20}\d(?![\w])", re.IGNORECASE)
NANP = re.compile(r"(?<![\w+.:-])(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[.-])\d{3}[.-]\d{4}(?![\w.:-])")


def _is_phone(candidate: str) -> bool:
    digits = sum(c.isdigit() for c in candidate.removeprefix("%2B").removeprefix("%2b"))
    return 8 <= digits <= 15


def find_personal_data(lines: Iterable[str]) -> list[str]:
    """The lines holding an email address or a phone number, each prefixed by what was found."""
    found: list[str] = []
    for line in lines:
        hits = [m.group(0) for m in EMAIL.finditer(line)]
        hits += [m.group(0) for m in E164.finditer(line) if _is_phone(m.group(0))]
        hits += [m.group(0) for m in NANP.finditer(line)]
        if hits:
            found.append(f"{', '.join(hits)}  <-  {line}")
    return found


_RECORD_START = re.compile(
    r"^(?:\d{4}-\d\d-\d\d[ T][\d:.,]+Z?\s+)?(TRACE|DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\b"
)


def lines_at_info_or_above(text: str) -> list[str]:
    """A subprocess's log output without its DEBUG/TRACE records. A record's continuation lines
    (a traceback) go with it; lines before the first record (stray prints) are kept."""
    kept: list[str] = []
    keep = True
    for line in text.splitlines():
        start = _RECORD_START.match(line)
        if start:
            keep = start.group(1) not in ("TRACE", "DEBUG")
        if keep:
            kept.append(line)
    return kept


class RecordCapture(logging.Handler):
    """Keeps every record at INFO+ that reaches it, once."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: dict[int, logging.LogRecord] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.records[id(record)] = record

    def lines(self) -> list[str]:
        """Each record as an operator would read it: the message, then any traceback. Records
        of disabled loggers never reach a handler and are left out."""
        formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
        return [
            line
            for r in self.records.values()
            if r.levelno >= logging.INFO and not logging.getLogger(r.name).disabled
            for line in formatter.format(r).splitlines()
        ]


STAND_INS = ("mail.log",)
"""Loggers of the providers' stand-ins tests run in-process, not of our services: aiosmtpd
logs every SMTP command (``RCPT TO:<...>``) at INFO. ``trellis dev``'s sinks quiet it too."""


@contextmanager
def no_personal_data_logged() -> Iterator[RecordCapture]:
    """Capture every record at INFO+ made inside the block, in any thread; fail, showing the
    lines, if one carries an email address or a phone number.

    A handler on the root logger sees what propagates. Records of loggers that do not propagate
    (uvicorn's) or whose handlers a test replaced (``configure_logging`` sets the root's) are
    caught where every record is made, the log record factory. The root is lowered to INFO for
    the block when it is above, so loggers without a level of their own make INFO records; the
    libraries every service keeps at WARNING (``trellis.logs.WARNINGS_ONLY``) and the providers'
    stand-ins (``STAND_INS``) are kept there.
    """
    capture = RecordCapture()
    root = logging.getLogger()
    quiet = {name: logging.getLogger(name) for name in (*WARNINGS_ONLY, *STAND_INS)}
    saved = {name: logger.level for name, logger in quiet.items()} | {"": root.level}
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    for logger in quiet.values():  # as every service configures them (a test's own httpx
        logger.setLevel(max(logging.WARNING, logger.level))  # client logs its URLs at INFO)
    root.addHandler(capture)
    factory = logging.getLogRecordFactory()

    def record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if record.levelno >= logging.INFO:
            capture.emit(record)
        return record

    logging.setLogRecordFactory(record_factory)
    try:
        yield capture
    finally:
        logging.setLogRecordFactory(factory)
        root.removeHandler(capture)
        for name, level in saved.items():
            logging.getLogger(name or None).setLevel(level)
    leaks = find_personal_data(capture.lines())
    assert not leaks, "personal data in log records at INFO+:\n" + "\n".join(leaks[:40])
