"""Schemathesis hooks (loaded by the CLI, see test_schemathesis.py): sign requests to the
Standard Webhooks and the SMS provider routes, so generated bodies get past the signature to
validation and the pipeline instead of stopping at 401.

``TRELLIS_ST_SIGNERS`` maps a path template to the source that signs it: ``{"id", "secret"}``.
Only a request carrying the configured placeholder credential (``SIGN_ME``) is signed, so
Schemathesis' own probes without a credential, or with a wrong one, stay unsigned and must be
refused. The signature is made over the body as requests will send it (a ``requests`` auth hook
sees the prepared request), with a fresh message id and the current time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

import requests
import schemathesis
from schemathesis import Case, HookContext

from services.ingest.twilio import twilio_signature

SIGNERS: dict[str, dict[str, str]] = json.loads(os.environ.get("TRELLIS_ST_SIGNERS", "{}"))
TWILIO_TOKEN = os.environ.get("TRELLIS_ST_TWILIO_TOKEN", "")
SIGN_ME = "sign-me"


class StandardWebhooksSignature(requests.auth.AuthBase):
    def __init__(self, secret: str) -> None:
        self.key = base64.b64decode(secret.removeprefix("whsec_"))

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        assert isinstance(body, str | bytes), "a generated body is sent whole, never streamed"
        payload = body.encode() if isinstance(body, str) else body
        msg_id, timestamp = f"msg_{uuid.uuid4().hex}", str(int(time.time()))
        mac = hmac.new(self.key, f"{msg_id}.{timestamp}.".encode() + payload, hashlib.sha256)
        request.headers["webhook-id"] = msg_id
        request.headers["webhook-timestamp"] = timestamp
        request.headers["webhook-signature"] = "v1," + base64.b64encode(mac.digest()).decode()
        return request


class TwilioSignature(requests.auth.AuthBase):
    """``services/ingest/twilio.py``'s scheme: the URL, then each form field sorted by name."""

    def __init__(self, auth_token: str) -> None:
        self.auth_token = auth_token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or ""
        assert isinstance(body, str | bytes)
        text = body.decode() if isinstance(body, bytes) else body
        params = parse_qsl(text, keep_blank_values=True)
        signed = twilio_signature(self.auth_token, str(request.url), params)
        request.headers["X-Twilio-Signature"] = signed
        return request


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    if case.headers.get("X-Twilio-Signature") == SIGN_ME:
        kwargs["auth"] = TwilioSignature(TWILIO_TOKEN)
    signer = SIGNERS.get(case.operation.path)
    if signer is None or case.headers.get("webhook-signature") != SIGN_ME:
        return
    case.path_parameters = {**(case.path_parameters or {}), "source_id": signer["id"]}
    kwargs["auth"] = StandardWebhooksSignature(signer["secret"])
