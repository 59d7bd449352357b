"""JSON log lines as a log pipeline merging many replicas needs them."""

from __future__ import annotations

import logging
import re
import sys

import orjson
import pytest

from trellis.logs import JsonFormatter, configure_logging, instance_name

ISO_UTC_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("trellis.x", logging.WARNING, __file__, 1, "batch %s", ("b1",), None)
    record.created = 1_764_151_205.1239  # 2025-11-26T10:00:05.123Z
    record.__dict__.update(extra)
    return record


def test_a_json_line_names_service_and_instance_with_a_utc_millisecond_time() -> None:
    line = orjson.loads(JsonFormatter("notifier", "host-a:12").format(_record()))
    assert line == {
        "ts": "2025-11-26T10:00:05.123Z",
        "level": "WARNING",
        "service": "notifier",
        "instance": "host-a:12",
        "logger": "trellis.x",
        "msg": "batch b1",
    }
    assert ISO_UTC_MS.match(line["ts"])


def test_a_request_id_and_an_exception_are_kept() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = _record(request_id="r-1", exc_info=sys.exc_info())
    line = orjson.loads(JsonFormatter("ingest", "i").format(record))
    assert line["request_id"] == "r-1" and "RuntimeError: boom" in line["exc"]


def test_configure_logging_names_this_instance(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRELLIS_INSTANCE", "orchestrator-2")
    assert instance_name() == "orchestrator-2"
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("orchestrator", "INFO", json_lines=True)
        logging.getLogger("trellis.y").info("hello")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["service"], line["instance"], line["msg"]) == (
        "orchestrator",
        "orchestrator-2",
        "hello",
    )
    assert ISO_UTC_MS.match(line["ts"])


def test_without_trellis_instance_it_is_host_and_pid(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import socket

    monkeypatch.delenv("TRELLIS_INSTANCE", raising=False)
    assert instance_name() == f"{socket.gethostname()}:{os.getpid()}"
