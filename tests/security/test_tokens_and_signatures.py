"""Credentials that arrive with a request: Standard Webhooks signatures (and their replay
window) and one-click unsubscribe tokens. Each test is one attack that must fail.

HTTP-level counterparts (real server and broker): tests/integration/test_ingest_webhooks.py
(replayed and forged webhooks) and tests/integration/test_ingest_callbacks.py (forged, expired
and prefetched unsubscribe links).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook

from services.ingest.auth import signature_valid, write_key_from
from services.ingest.callback_tokens import (
    TokenProblem,
    check,
    status_callback_url,
    status_signer,
    unsubscribe_signer,
)
from services.ingest.replay import REMEMBER_S, DeliveredWebhooks
from services.ingest.settings import IngestSettings
from services.notifier.unsubscribe import UnsubscribeSigner
from trellis.sources import new_webhook_secret

BODY = b'{"id":"e-1","type":"page_viewed"}'
TOLERANCE = timedelta(minutes=5)  # standardwebhooks' default, which signature_valid relies on


def _headers(secret: str, body: bytes, at: datetime, msg_id: str = "msg_1") -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


def test_a_fresh_signature_by_the_sources_secret_is_accepted() -> None:
    secret = new_webhook_secret()
    assert signature_valid((secret,), _headers(secret, BODY, datetime.now(UTC)), BODY)


def test_a_changed_body_id_or_timestamp_breaks_the_signature() -> None:
    secret = new_webhook_secret()
    signed = _headers(secret, BODY, datetime.now(UTC))
    assert not signature_valid((secret,), signed, BODY.replace(b"e-1", b"e-2"))
    # the id is signed too: a replay cannot dodge the delivered-id memory by renaming itself
    assert not signature_valid((secret,), {**signed, "webhook-id": "msg_2"}, BODY)
    later = str(int(signed["webhook-timestamp"]) + 1)
    assert not signature_valid((secret,), {**signed, "webhook-timestamp": later}, BODY)


def test_another_sources_secret_does_not_verify() -> None:
    mine, theirs = new_webhook_secret(), new_webhook_secret()
    assert not signature_valid((mine,), _headers(theirs, BODY, datetime.now(UTC)), BODY)


OUTSIDE = TOLERANCE + timedelta(seconds=5)


@pytest.mark.parametrize("skew", [OUTSIDE, -OUTSIDE], ids=["stale", "from-the-future"])
def test_a_genuine_signature_outside_the_tolerance_window_is_refused(skew: timedelta) -> None:
    secret = new_webhook_secret()
    at = datetime.now(UTC) - skew
    assert not signature_valid((secret,), _headers(secret, BODY, at), BODY)


@pytest.mark.parametrize(
    "override",
    [
        {"webhook-signature": "v1,not-base64!!"},
        {"webhook-signature": ""},
        {"webhook-signature": "v2," + base64.b64encode(b"x" * 32).decode()},
        {"webhook-timestamp": "yesterday"},
        {"webhook-timestamp": "9" * 40},
        {"webhook-id": ""},
    ],
)
def test_malformed_signature_headers_are_a_refusal_not_an_error(override: dict[str, str]) -> None:
    secret = new_webhook_secret()
    headers = {**_headers(secret, BODY, datetime.now(UTC)), **override}
    assert not signature_valid((secret,), headers, BODY)


def test_during_rotation_either_active_secret_verifies_and_none_is_needed_twice() -> None:
    old, new = new_webhook_secret(), new_webhook_secret()
    assert signature_valid((new, old), _headers(old, BODY, datetime.now(UTC)), BODY)
    assert not signature_valid((), _headers(old, BODY, datetime.now(UTC)), BODY)


def test_a_delivered_webhook_id_is_remembered_longer_than_a_signature_stays_valid() -> None:
    clock = [1000.0]
    delivered = DeliveredWebhooks(clock=lambda: clock[0])
    delivered.remember("src-a", "msg_1")
    clock[0] += TOLERANCE.total_seconds() + 1  # the signature itself has expired by now
    assert delivered.seen("src-a", "msg_1")
    assert not delivered.seen("src-b", "msg_1")  # ids are per source: no cross-source denial
    assert TOLERANCE.total_seconds() < REMEMBER_S


NOW = datetime(2026, 1, 5, 10, tzinfo=UTC)
SECRET = b"unsubscribe-secret"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_an_unsubscribe_token_cannot_be_edited_to_another_contact() -> None:
    signer = unsubscribe_signer(SECRET)
    token = signer.token("ct-ana", NOW)
    payload, sig = token.split(".")
    expires = base64.urlsafe_b64decode(payload + "==").decode().rsplit("|", 1)[1]
    for other in ("ct-bob", "ct-ana|1", "ct-an"):
        edited = f"{_b64(f'{other}|{expires}'.encode())}.{sig}"
        assert check(signer, edited, NOW).problem is TokenProblem.INVALID
    # nor extended: a later expiry with the old signature
    extended = f"{_b64(f'ct-ana|{int(expires) + 10**6}'.encode())}.{sig}"
    assert check(signer, extended, NOW).problem is TokenProblem.INVALID


def test_an_unsubscribe_token_cannot_be_made_without_the_secret() -> None:
    signer = unsubscribe_signer(SECRET)
    for forged in (
        unsubscribe_signer(b"guessed").token("ct-ana", NOW),
        UnsubscribeSigner(b"", "").token("ct-ana", NOW),
        f"{_b64(b'ct-ana|9999999999')}.",
        f"{_b64(b'ct-ana|9999999999')}.{_b64(b'0' * 32)}",
        "ct-ana",
        "..",
    ):
        assert check(signer, forged, NOW).problem is TokenProblem.INVALID, forged


def test_the_notifiers_links_verify_at_ingest_and_stay_bound_to_their_contact() -> None:
    link = UnsubscribeSigner(SECRET, "https://t.example/v1/unsubscribe").url("ct-ana", NOW)
    token = link.split("token=", 1)[1]
    assert check(unsubscribe_signer(SECRET), token, NOW).value == "ct-ana"


def test_an_sms_status_token_never_passes_as_an_unsubscribe_token_or_the_reverse() -> None:
    url = status_callback_url("https://t.example/v1/sms/status", SECRET, "ct-ana", "t-1", NOW)
    status_token = url.split("token=", 1)[1]
    unsubscribe_token = unsubscribe_signer(SECRET).token("ct-ana|t-1", NOW)
    assert check(unsubscribe_signer(SECRET), status_token, NOW).problem is TokenProblem.INVALID
    assert check(status_signer(SECRET), unsubscribe_token, NOW).problem is TokenProblem.INVALID


@pytest.mark.parametrize(
    "header", ["Bearer wk_x", "Basic", "Basic !!!", "Basic " + base64.b64encode(b":pw").decode()]
)
def test_write_key_parsing_refuses_anything_but_a_basic_username(header: str) -> None:
    assert write_key_from(header) is None


def test_sms_callbacks_are_refused_in_prod_while_the_public_dev_token_is_set() -> None:
    """With the dev token anyone can sign a Twilio-style START for any number: a forged opt-in."""
    secret = SecretStr("a-real-secret")
    assert not IngestSettings(env="prod", unsubscribe_secret=secret).sms_callbacks_enabled
    token = SecretStr("real-token")
    real = IngestSettings(env="prod", unsubscribe_secret=secret, sms_auth_token=token)
    assert real.sms_callbacks_enabled
    assert IngestSettings(env="dev").sms_callbacks_enabled
    with pytest.raises(ValueError, match="must be set in prod"):  # and the unsubscribe secret
        IngestSettings(env="prod")
