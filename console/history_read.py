"""History as ``trellis import`` reads it: JSON lines of native envelopes, Segment calls or
CloudEvents (gzip told by its magic bytes), each translated by ingest's own translators and
validated as ingest validates, so history and live traffic carry the same envelope.

A Segment call without a ``messageId`` gets one derived from its line's bytes, so a re-run
publishes the same ids and the orchestrator's inbox drops what it already applied."""

from __future__ import annotations

import gzip
import hashlib
import sys
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.events import EngagementEvent
from schemas.vocabulary import SourceKind
from services.ingest import segment
from services.ingest.cloudevents import CloudEventIn, to_event
from services.ingest.validation import InvalidEvents, Limits, check_vocabulary
from trellis.sources import Source

GZIP_MAGIC = b"\x1f\x8b"
SEGMENT_CALLS = {"identify", "track", "page", "screen", "group"}


@dataclass
class History:
    """The valid events (in no order yet) and each invalid line's number and why."""

    events: list[EngagementEvent] = field(default_factory=list)
    invalid: list[tuple[int, str]] = field(default_factory=list)


def lines_of(path: str) -> Iterator[bytes]:
    """A file's lines, or stdin's for ``-``; gunzipped when it starts with gzip's magic bytes."""
    if path == "-":
        data = sys.stdin.buffer.read()
        yield from (gzip.decompress(data) if data[:2] == GZIP_MAGIC else data).splitlines()
        return
    with Path(path).open("rb") as head:
        zipped = head.read(2) == GZIP_MAGIC
    with gzip.open(path, "rb") if zipped else Path(path).open("rb") as lines:
        yield from lines


def read_history(
    lines: Iterable[bytes], source_name: str, custom_types: Collection[str] = ()
) -> History:
    """Every non-blank line translated and validated; an invalid one is kept by number."""
    history = History()
    source = Source(source_name, source_name, SourceKind.CRM, False, None)
    now = datetime.now(UTC)
    limits = Limits()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = to_envelope(orjson.loads(line), line, source, now, custom_types)
            history.events += check_vocabulary(
                [event], [("line", number)], custom_types, now, limits, source_name
            )
        except orjson.JSONDecodeError as exc:
            history.invalid.append((number, f"not JSON: {exc}"))
        except ValidationError as exc:
            history.invalid.append((number, _said(exc.errors(include_url=False))))
        except InvalidEvents as exc:
            history.invalid.append((number, _said(exc.errors)))
        except (KeyError, TypeError, ValueError) as exc:
            history.invalid.append((number, f"{type(exc).__name__}: {exc}"))
    return history


def to_envelope(
    raw: Any, line: bytes, source: Source, now: datetime, custom_types: Collection[str]
) -> EngagementEvent:
    """A CloudEvent (``specversion``), a Segment call (its ``type`` is a call), or ours."""
    if not isinstance(raw, dict):
        raise ValueError("a line must be a JSON object")
    if "specversion" in raw:
        return to_event(CloudEventIn.model_validate(raw), list(custom_types))
    if raw.get("type") in SEGMENT_CALLS:
        call = segment.SegmentCall.model_validate(raw)
        if call.messageId is None:
            call.messageId = "seg-" + hashlib.sha256(line.strip()).hexdigest()[:32]
        return segment.translate(call, source, call.timestamp or now)
    return EngagementEvent.model_validate(raw)


def in_order(events: list[EngagementEvent]) -> Iterator[EngagementEvent]:
    """Replay order: ``occurred_at``, ties by id (the order the domain folds them in)."""
    return iter(sorted(events, key=lambda e: (e.time, e.id)))


def _said(errors: Iterable[Any]) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ())) or '<root>'}: {e.get('msg')}"
        for e in list(errors)[:3]
    )
