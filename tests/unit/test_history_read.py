"""What ``trellis import`` reads: our envelopes, Segment calls and CloudEvents on one JSON-lines
stream (gzip too), translated by ingest's own translators, invalid lines skipped by number, a
Segment call without a messageId given the same id on every run; and its progress line."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import orjson
import pytest

from console.history_import import Progress
from console.history_read import in_order, lines_of, read_history

NATIVE = {
    "id": "n-1", "type": "demo_requested", "source": "crm", "time": "2024-05-01T10:00:00Z",
    "contact": {"email": "ana@acme.example"}, "properties": {},
}  # fmt: skip
SEGMENT = {
    "type": "track", "event": "Demo Requested", "userId": "u-1",
    "timestamp": "2024-03-01T10:00:00Z", "context": {"traits": {"email": "bo@acme.example"}},
}  # fmt: skip
CLOUDEVENT = {
    "specversion": "1.0", "id": "ce-1", "source": "/warehouse", "type": "com.acme.page_viewed",
    "time": "2024-04-01T10:00:00Z",
    "data": {"contact": {"email": "cy@acme.example"}, "properties": {"path": "/pricing"}},
}  # fmt: skip
LINES = [
    orjson.dumps(NATIVE),
    b"",
    orjson.dumps(SEGMENT),
    b"{not json",
    orjson.dumps(CLOUDEVENT),
    orjson.dumps({**NATIVE, "id": "n-2", "type": "no_such_event"}),
]


@pytest.mark.parametrize("zipped", [False, True])
def test_the_three_formats_are_read_in_occurred_at_order_and_bad_lines_named(
    tmp_path: Path, zipped: bool
) -> None:
    text = b"\n".join(LINES)
    path = tmp_path / "history.jsonl"
    path.write_bytes(gzip.compress(text) if zipped else text)
    history = read_history(lines_of(str(path)), "warehouse")
    ordered = list(in_order(history.events))
    assert [e.type for e in ordered] == ["demo_requested", "page_viewed", "demo_requested"]
    assert [e.time.month for e in ordered] == [3, 4, 5]
    assert [number for number, _ in history.invalid] == [4, 6]
    assert "no_such_event" in history.invalid[1][1]
    assert all(e.received_from == "warehouse" for e in ordered)


def test_stdin_is_read_gzipped_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    for data in (orjson.dumps(NATIVE), gzip.compress(orjson.dumps(NATIVE))):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
        assert [e.id for e in read_history(lines_of("-"), "w").events] == ["n-1"]


def test_a_segment_call_without_message_id_gets_the_same_id_on_every_run() -> None:
    first = read_history([orjson.dumps(SEGMENT)], "w").events
    again = read_history([orjson.dumps(SEGMENT) + b"\n"], "w").events
    other = read_history([orjson.dumps({**SEGMENT, "userId": "u-2"})], "w").events
    assert first[0].id == again[0].id != other[0].id


def test_progress_says_events_per_second_and_what_is_left() -> None:
    progress = Progress(total=1000, out=io.StringIO())
    progress.done = 250
    assert progress.line(elapsed=0.5) == (
        "[#######.......................] 250/1,000 500 events/s ETA 2 s "
    )
