"""SMS provider callbacks (Twilio-style, signature validated).

- ``POST /v1/sms/inbound``: STOP-type keywords -> a ``stop`` outcome; START -> a
  ``consent_given`` event (channel sms); HELP -> a help reply, nothing published.
  The provider only knows the phone number, so the outcome's ``contact_id`` is the ``From`` number
  (E.164) and ``detail`` says so (``phone=<From>``); the orchestrator resolves it by phone.
- ``POST /v1/sms/status?token=...``: ``MessageStatus`` sent/delivered/undelivered/failed -> an
  outcome for the contact and touch carried in the signed token of the ``StatusCallback`` URL.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from xml.sax.saxutils import escape

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response

from schemas.commands import Channel
from schemas.outcomes import OutcomeStatus, TouchOutcome
from services.ingest.callback_tokens import check, split_status, status_signer
from services.ingest.pipeline import PipelineDep, SettingsDep
from services.ingest.twilio import verified_form

router = APIRouter(prefix="/v1/sms", tags=["callbacks"])

HELP_TEXT = "Reply STOP to stop messages, START to receive them again."


class Keyword(StrEnum):
    STOP = "STOP"
    START = "START"
    HELP = "HELP"


_WORDS = {
    **dict.fromkeys(
        ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"),
        Keyword.STOP,
    ),
    **dict.fromkeys(("START", "UNSTOP", "YES", "SUBSCRIBE"), Keyword.START),
    **dict.fromkeys(("HELP", "INFO"), Keyword.HELP),
}

# Twilio error codes that are consent changes or permanent address failures.
_STOP_CODES = {"21610"}
_BOUNCE_CODES = {"30005", "30006", "21211", "21614"}


def keyword(form: dict[str, str]) -> Keyword | None:
    """``OptOutType`` when the provider set it, else the message's first word."""
    word = form.get("OptOutType") or (form.get("Body", "").strip().split() or [""])[0]
    return _WORDS.get(word.strip().upper())


def _twiml(message: str | None = None) -> Response:
    inner = f"<Message>{escape(message)}</Message>" if message else ""
    return Response(
        f"<?xml version='1.0' encoding='UTF-8'?><Response>{inner}</Response>",
        media_type="application/xml",
    )


def _auth(settings: SettingsDep) -> tuple[str, str | None]:
    if not settings.sms_callbacks_enabled:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "SMS callbacks need TRELLIS_SMS_AUTH_TOKEN"
        )
    return settings.sms_auth_token.get_secret_value(), settings.ingest_public_url


MAX_PHONE = 32  # E.164 is at most 16 characters; a provider's formatting may add some
MAX_SID = 100  # Twilio's are 34


@router.post("/inbound")
async def sms_inbound(request: Request, pipeline: PipelineDep, settings: SettingsDep) -> Response:
    form = await verified_form(request, *_auth(settings))
    phone = form.get("From", "")
    word = keyword(form)
    if word is None or not phone:
        return _twiml()
    if len(phone) > MAX_PHONE or any(ord(c) < 0x20 for c in phone):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "From is not a phone number")
    sid = form.get("MessageSid") or hashlib.sha256(repr(sorted(form.items())).encode()).hexdigest()
    if len(sid) > MAX_SID:  # an outcome id stays within its 200 characters
        sid = hashlib.sha256(sid.encode()).hexdigest()
    now = datetime.now(UTC)
    match word:
        case Keyword.STOP | Keyword.START:
            outcome = TouchOutcome(
                id=f"sms-inbound:{sid}",
                contact_id=phone,
                channel=Channel.SMS,
                status=OutcomeStatus.STOP if word is Keyword.STOP else OutcomeStatus.START,
                provider_id=sid,
                detail=f"to={form.get('To', '')} keyword={word.value}",
                occurred_at=now,
            )
            await pipeline.report([outcome])
            return _twiml()
        case Keyword.HELP:
            return _twiml(HELP_TEXT)


_STATUS = {"sent": OutcomeStatus.SENT, "delivered": OutcomeStatus.DELIVERED}


def delivery_status(message_status: str, error_code: str | None) -> OutcomeStatus | None:
    if message_status in _STATUS:
        return _STATUS[message_status]
    if message_status not in ("undelivered", "failed"):
        return None  # queued, accepting, sending...: not an outcome yet
    if error_code in _STOP_CODES:
        return OutcomeStatus.STOP
    if error_code in _BOUNCE_CODES:
        return OutcomeStatus.BOUNCED
    return OutcomeStatus.FAILED


@router.post("/status", status_code=status.HTTP_204_NO_CONTENT)
async def sms_status(
    request: Request, pipeline: PipelineDep, settings: SettingsDep, token: str | None = None
) -> Response:
    form = await verified_form(request, *_auth(settings))
    secret = settings.unsubscribe_secret.get_secret_value().encode()
    checked = check(status_signer(secret), token, datetime.now(UTC))
    if checked.value is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"status callback token {checked.problem}")
    contact_id, touch_id = split_status(checked.value)
    sid, message_status = form.get("MessageSid", ""), form.get("MessageStatus", "").lower()
    error = form.get("ErrorCode") or None
    outcome_status = delivery_status(message_status, error)
    if outcome_status is not None and sid:
        detail = f"MessageStatus={message_status}" + (f" ErrorCode={error}" if error else "")
        await pipeline.report(
            [
                TouchOutcome(
                    id=f"sms-status:{sid}:{message_status}",
                    touch_id=touch_id or None,
                    contact_id=contact_id,
                    channel=Channel.SMS,
                    status=outcome_status,
                    retryable=False,
                    provider_id=sid,
                    detail=detail,
                    occurred_at=datetime.now(UTC),
                )
            ]
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
