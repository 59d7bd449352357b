"""Pure parts of the provider callbacks: Twilio signatures, SMS keywords, delivery statuses,
signed callback tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.outcomes import OutcomeStatus
from services.ingest.callback_tokens import (
    TokenProblem,
    check,
    split_status,
    status_callback_url,
    status_signer,
    unsubscribe_signer,
)
from services.ingest.sms import Keyword, delivery_status, keyword
from services.ingest.twilio import twilio_signature

DOCS_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
DOCS_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def test_twilio_signature_matches_the_published_example() -> None:
    assert (
        twilio_signature("12345", DOCS_URL, DOCS_PARAMS.items()) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )


def test_the_real_twilio_validator_accepts_our_signature() -> None:
    validator = pytest.importorskip("twilio.request_validator").RequestValidator("tok")
    url = "http://127.0.0.1:8000/v1/sms/status?token=abc.def"
    params = {"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "21610"}
    assert validator.validate(url, params, twilio_signature("tok", url, params.items()))


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"Body": "STOP"}, Keyword.STOP),
        ({"Body": "  unsubscribe me"}, Keyword.STOP),
        ({"Body": "Hello", "OptOutType": "STOP"}, Keyword.STOP),
        ({"Body": "start"}, Keyword.START),
        ({"Body": "UNSTOP"}, Keyword.START),
        ({"Body": "help"}, Keyword.HELP),
        ({"Body": "what is the price?"}, None),
        ({"Body": ""}, None),
        ({}, None),
    ],
)
def test_sms_keywords(form: dict[str, str], expected: Keyword | None) -> None:
    assert keyword(form) == expected


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        ("delivered", None, OutcomeStatus.DELIVERED),
        ("sent", None, OutcomeStatus.SENT),
        ("undelivered", "30003", OutcomeStatus.FAILED),
        ("failed", "21610", OutcomeStatus.STOP),
        ("undelivered", "30006", OutcomeStatus.BOUNCED),
        ("queued", None, None),
        ("sending", None, None),
    ],
)
def test_delivery_statuses_map_to_outcomes(
    status: str, code: str | None, expected: OutcomeStatus | None
) -> None:
    assert delivery_status(status, code) == expected


def test_tokens_tell_missing_forged_and_expired_apart() -> None:
    signer = unsubscribe_signer(b"s")
    token = signer.token("ct-1", NOW)
    assert check(signer, token, NOW).value == "ct-1"
    assert check(signer, None, NOW).problem is TokenProblem.MISSING
    assert check(signer, token[:-2] + "xx", NOW).problem is TokenProblem.INVALID
    assert check(signer, "garbage", NOW).problem is TokenProblem.INVALID
    assert check(signer, token, NOW + timedelta(days=61)).problem is TokenProblem.EXPIRED


def test_a_status_callback_token_is_not_an_unsubscribe_token() -> None:
    url = status_callback_url("http://h/v1/sms/status", b"s", "ct-1", "t-9", NOW)
    token = url.split("token=", 1)[1]
    assert split_status(check(status_signer(b"s"), token, NOW).value or "") == ("ct-1", "t-9")
    assert check(unsubscribe_signer(b"s"), token, NOW).problem is TokenProblem.INVALID
