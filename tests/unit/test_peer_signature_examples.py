"""Signature test vectors from the protocols' own test suites, checked against our verifiers.

Sources and licences (the values below are copied from them):
- Standard Webhooks: the Python library's tests, https://github.com/standard-webhooks/
  standard-webhooks/blob/main/libraries/python/tests/test_webhooks.py, licence MIT.
- Twilio: twilio-python's request-validator tests, https://github.com/twilio/twilio-python/blob/
  main/tests/unit/test_request_validator.py, licence MIT.
The HTTP examples (Segment, CloudEvents, a Twilio callback):
tests/integration/test_peer_examples.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from math import floor
from typing import Any

import pytest

from services.ingest.auth import signature_valid
from services.ingest.twilio import signature_matches, twilio_signature

# --- Standard Webhooks -------------------------------------------------------------------------

MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
PAYLOAD = b'{"test": 2432232314}'
SECRET = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _signed_now(secret_b64: str = SECRET) -> dict[str, str]:
    """The library tests' ``PayloadForTesting``: signed over id.timestamp.payload at now."""
    ts = str(floor(datetime.now(UTC).timestamp()))
    mac = hmac.new(base64.b64decode(secret_b64), f"{MSG_ID}.{ts}.".encode() + PAYLOAD,
                   hashlib.sha256).digest()  # fmt: skip
    return {"webhook-id": MSG_ID, "webhook-timestamp": ts,
            "webhook-signature": "v1," + base64.b64encode(mac).decode()}  # fmt: skip


@pytest.mark.parametrize(
    ("case", "change", "valid"),
    [
        ("valid signature", {}, True),
        ("missing id", {"webhook-id": None}, False),
        ("missing timestamp", {"webhook-timestamp": None}, False),
        ("invalid timestamp", {"webhook-timestamp": "hello"}, False),
        ("missing signature", {"webhook-signature": None}, False),
        ("invalid signature",
         {"webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="}, False),
        ("old timestamp (the sign test vector's, 2021)", {"webhook-timestamp": "1614265330",
         "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}, False),
    ],
)  # fmt: skip
def test_standard_webhooks_library_cases(case: str, change: dict[str, Any], valid: bool) -> None:
    headers: dict[str, str] = {**_signed_now()}
    for name, value in change.items():
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    for secret in (SECRET, "whsec_" + SECRET):  # with and without the prefix
        assert signature_valid((secret,), headers, PAYLOAD) is valid, case


def test_standard_webhooks_several_signatures_one_valid() -> None:
    headers = _signed_now()
    headers["webhook-signature"] = " ".join([
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        headers["webhook-signature"],
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
    ])  # fmt: skip
    assert signature_valid((SECRET,), headers, PAYLOAD)


# --- Twilio ---------------------------------------------------------------------------------------

TWILIO_TOKEN = "12345"
TWILIO_URI = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = [("CallSid", "CA1234567890ABCDE"), ("Digits", "1234"), ("From", "+14158675309"),
                 ("To", "+18005551212"), ("Caller", "+14158675309")]  # fmt: skip


def test_twilio_compute_signature() -> None:
    assert (
        twilio_signature(TWILIO_TOKEN, TWILIO_URI, TWILIO_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )
    duplicates = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URI, duplicates) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


@pytest.mark.parametrize(
    ("case", "uri", "signature"),
    [
        ("validation", TWILIO_URI, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        ("removes port on https", TWILIO_URI.replace(".com", ".com:1234"),
         "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        ("removes port on http", TWILIO_URI.replace(".com", ".com:1234").replace("https", "http"),
         "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
        ("adds port on https", TWILIO_URI, "kvajT1Ptam85bY51eRf/AJRuM3w="),
        ("adds port on http", TWILIO_URI.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4="),
    ],
)  # fmt: skip
def test_twilio_request_validator_cases(case: str, uri: str, signature: str) -> None:
    assert signature_matches(TWILIO_TOKEN, uri, TWILIO_PARAMS, signature), case
    assert not signature_matches(TWILIO_TOKEN, uri, TWILIO_PARAMS, signature[:-2] + "x="), case
