"""The personal-data scanner the log tests rely on: it must see addresses and phone numbers in
their usual spellings, and must not cry wolf at what every log line is made of. The services'
own defences (``trellis.logs.redact`` and ``error_kind``) must leave it nothing to find."""

from __future__ import annotations

import hashlib
import logging
import threading

import pytest
from sqlalchemy.exc import IntegrityError

from tests.pii import find_personal_data, lines_at_info_or_above, no_personal_data_logged
from trellis.logs import error_kind, redact

SHA256 = hashlib.sha256(b"trellis").hexdigest()


@pytest.mark.parametrize(
    "line",
    [
        "ana@acme.example",
        "poison suspect: Key (email)=(ana@acme.example) already exists",
        "to=Ana.Smith+news@sub.acme-corp.co.uk;",
        "GET /v1/unsubscribe?email=ana%40acme.example",
        "+14155550123",
        "sms to +14155550123 failed",
        "From=%2B14155550123&Body=STOP",
        "+44 20 7946 0958",
        "+1 (415) 555-0123",
        "(415) 555-0123",
        "call 415-555-0123 now",
        "415.555.0123",
        "1-415-555-0123",
    ],
)
def test_emails_and_phone_numbers_are_found(line: str) -> None:
    [found] = find_personal_data([line])
    assert found.endswith(line)


@pytest.mark.parametrize(
    "line",
    [
        "2026-11-26T10:00:00Z",
        "2026-11-26 10:00:00,123 INFO    notifier trellis.runtime: notifier consuming",
        "2026-11-26T10:00:00+00:00 and +0000 and 10:00:00.123456",
        "ingest on 127.0.0.1:8000, broker 127.0.0.1:19092",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/trellis_e2e_0123456789",
        "c_0123456789abcdef",
        SHA256,
        f"sha256:{SHA256}",
        "trellis.engagement.v1[2]@1234567890: dead-lettered",
        "offset 1764151200000 epoch 1764151200",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        "touch 5f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f:sent took +12.5 s",
        "version 1.26.3, python 3.11.9, 10.0.0.12",
        '  File "/work/main/trellis/consumer.py", line 158, in _apply',
        "    @functools.lru_cache(maxsize=256)",
        "batch of 2000 records in 0.123 s (16254.1 rec/s)",
    ],
)
def test_log_furniture_is_not_flagged(line: str) -> None:
    assert find_personal_data([line]) == []


def test_the_capture_fails_on_a_leak_from_any_logger_or_thread_and_shows_the_line() -> None:
    isolated = logging.getLogger("tests.pii.isolated")
    isolated.propagate = False  # like uvicorn's loggers
    try:
        with pytest.raises(AssertionError) as failed, no_personal_data_logged():
            logging.getLogger("tests.pii").info("contact %s", "ana@acme.example")
            worker = threading.Thread(target=isolated.warning, args=("sms to +14155550123",))
            worker.start()
            worker.join()
            logging.getLogger("tests.pii").debug("below INFO: bob@acme.example")
    finally:
        isolated.propagate = True
    message = str(failed.value)
    assert "contact ana@acme.example" in message
    assert "sms to +14155550123" in message
    assert "bob@acme.example" not in message


def test_the_capture_passes_clean_logs_and_restores_the_root_logger() -> None:
    root = logging.getLogger()
    level, handlers, factory = root.level, root.handlers[:], logging.getLogRecordFactory()
    httpx_level = logging.getLogger("httpx").level
    with no_personal_data_logged() as capture:
        logging.getLogger("tests.pii").info("contact %s sent touch %s", "c-42", "t-1")
        # kept at WARNING as in every service: a test's own client logging its URL is no leak
        logging.getLogger("httpx").info("HTTP Request: GET http://t/?e=ana%40acme.example")
        logging.getLogger("mail.log").info("('127.0.0.1', 1) >> b'RCPT TO:<ana@acme.example>'")
    assert capture.lines() == ["INFO tests.pii: contact c-42 sent touch t-1"]
    assert (root.level, root.handlers, logging.getLogRecordFactory()) == (
        level,
        handlers,
        factory,
    )
    assert logging.getLogger("httpx").level == httpx_level


def test_a_subprocess_log_is_read_without_its_debug_records_but_with_tracebacks() -> None:
    text = "\n".join(
        [
            "tansu broker 0.6.0",
            "2026-11-26 10:00:00,001 DEBUG   notifier aiosmtplib: RCPT TO:<ana@acme.example>",
            "  continued debug payload bob@acme.example",
            "2026-11-26 10:00:00,002 ERROR   notifier services.notifier.dispatch: raised",
            "Traceback (most recent call last):",
            "ValueError: cannot deliver to carol@acme.example",
            "2026-11-26T10:00:00.003Z  INFO tansu::broker: ready",
        ]
    )
    kept = lines_at_info_or_above(text)
    assert kept[0] == "tansu broker 0.6.0" and len(kept) == 5
    assert [h.split()[0] for h in find_personal_data(kept)] == ["carol@acme.example"]


def test_the_services_redaction_leaves_nothing_the_scanner_finds() -> None:
    text = (
        "schema: Key (email)=(ana@acme.example) already exists; To=%2B14155550123, "
        "call (415) 555-0123 or +44 20 7946 0958; ana%40acme.example at 2026-11-26T10:00:00Z"
    )
    redacted = redact(text)
    assert find_personal_data([redacted]) == []
    assert redacted.count("<redacted>") == 5 and "2026-11-26T10:00:00Z" in redacted


def test_an_error_kind_names_types_along_the_chain_never_a_message() -> None:
    try:
        try:
            raise ConnectionResetError("peer ana@acme.example reset")
        except ConnectionResetError as inner:
            raise IntegrityError("INSERT", {"e": "ana@acme.example"}, KeyError("x")) from inner
    except IntegrityError as exc:
        kind = error_kind(exc)
    assert kind == "IntegrityError <- KeyError"
