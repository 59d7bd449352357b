"""Logging setup: readable lines by default, JSON lines when ``TRELLIS_LOG_JSON`` is on.

Logs reach more people and live longer than the databases, so nothing personal goes into a
record at INFO or above (docs/security.md, boundary 5): records name contacts, touches and
reminders by id. Exception text is the risk, as libraries echo their input (a database error's
``DETAIL: Key (email)=(...)``, an SMTP refusal naming the recipient): log ``error_kind(exc)``, and
pass any other free text that may hold input through ``redact``.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

_PERSONAL = re.compile(
    r"[\w.%+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+"  # email, also URL-encoded
    r"|(?:\+|%2B)\d[\d ().-]{6,20}\d"  # E.164, with or without separators
    r"|(?<!\w)(?:\(\d{3}\) ?|\d{3}[.-])\d{3}[.-]\d{4}(?!\w)",  # (415) 555-0123, 415-555-0123
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with email addresses and phone numbers replaced by ``<redacted>``."""
    return _PERSONAL.sub("<redacted>", text)


def error_kind(exc: BaseException) -> str:
    """An exception as a log line may show it: its type and its causes' types, never a
    message (``IntegrityError <- UniqueViolationError``). The full text belongs where personal
    data may be (a dead-letter record's header), not in the log."""
    kinds: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(kinds) < 4:
        name = type(current).__name__
        if name not in kinds:
            kinds.append(name)
        orig = getattr(current, "orig", None)  # SQLAlchemy's wrapped DBAPI error
        nxt = orig if isinstance(orig, BaseException) else current.__cause__ or current.__context__
        current = None if nxt is current else nxt
    return " <- ".join(kinds)


def instance_name() -> str:
    """This process among its replicas: ``TRELLIS_INSTANCE`` if set, else ``host:pid``."""
    return os.environ.get("TRELLIS_INSTANCE") or f"{socket.gethostname()}:{os.getpid()}"


def utc_timestamp(created: float) -> str:
    """ISO-8601 in UTC with milliseconds (``2026-11-26T10:40:05.123Z``): sortable and
    comparable across hosts in different zones, unlike a local time without an offset."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, naming the service and instance so a log pipeline that merges
    every replica's stream can still tell them apart."""

    def __init__(self, service: str | None = None, instance: str | None = None) -> None:
        super().__init__()
        self.service = service
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": utc_timestamp(record.created),
            "level": record.levelname,
            "service": getattr(record, "service", self.service),
            "instance": self.instance,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if hasattr(record, "request_id"):
            payload["request_id"] = record.request_id
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(payload).decode()


WARNINGS_ONLY = ("aiokafka", "httpx", "httpcore")
"""Libraries whose INFO records every service drops: aiokafka is chatty about every group join;
httpx logs every request's full URL, and Slack and rep webhook URLs carry their credential."""


def configure_logging(service: str, level: str = "INFO", json_lines: bool = False) -> None:
    handler = logging.StreamHandler(sys.stdout)
    if json_lines:
        handler.setFormatter(JsonFormatter(service, instance_name()))
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)-7s {service} %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in WARNINGS_ONLY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
