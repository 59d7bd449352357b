"""Double opt-in: ``GET /v1/consent/confirm?token=...`` shows what a click will do, its button
POSTs it, and the POST publishes a ``confirmed`` outcome: the recipient's own verified act, the
one thing besides SMS START that lifts their earlier opt-out.

The token is signed by Trellis (a key derived from the unsubscribe secret, so it never passes as
an unsubscribe or SMS status token) and bound to one contact and one channel; it expires after
7 days. Operators mint the link with ``trellis sources confirm-link CONTACT_ID`` and send it in
the confirmation message the recipient asked for. Like unsubscribe: public, idempotent (the
outcome id is derived from the token), never redirects, GET never changes anything.
"""

from __future__ import annotations

import hashlib
import html
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse

from schemas.commands import Channel
from schemas.outcomes import OutcomeStatus, TouchOutcome
from services.ingest.pipeline import PipelineDep, SettingsDep
from services.ingest.settings import IngestSettings
from services.ingest.unsubscribe import is_form, link_value, page
from trellis.signed_tokens import confirmation_signer

router = APIRouter(prefix="/v1/consent", tags=["callbacks"])

CHANNELS = {"email": Channel.EMAIL, "sms": Channel.SMS}


def confirmation_url(
    base_url: str, secret: bytes, contact_id: str, channel: str, now: datetime
) -> str:
    """The link to send the recipient (``channel``: email or sms)."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
    token = confirmation_signer(secret).token(f"{contact_id}|{channel}", now)
    return f"{base_url.rstrip('/')}/v1/consent/confirm?token={token}"


def _subject(settings: IngestSettings, token: str | None) -> tuple[str, Channel]:
    secret = settings.unsubscribe_secret.get_secret_value().encode()
    value = link_value(confirmation_signer(secret), token, "confirmation", "ask for a new one")
    contact_id, _, channel = value.rpartition("|")
    if channel not in CHANNELS or not contact_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "confirmation link is not valid")
    return contact_id, CHANNELS[channel]


@router.get("/confirm", response_class=HTMLResponse)
async def confirm_page(settings: SettingsDep, token: str | None = None) -> HTMLResponse:
    """A page whose button confirms; opening the link (or a scanner prefetching it) does not."""
    try:
        _, channel = _subject(settings, token)
    except HTTPException as exc:
        return page("Confirm", f"<p>{html.escape(str(exc.detail))}.</p>", exc.status_code)
    action = html.escape(f"/v1/consent/confirm?token={token}", quote=True)
    form = (
        f"<form method='post' action='{action}'>"
        f"<button type='submit'>Yes, send me {channel.value} messages</button></form>"
    )
    return page("Confirm", f"<p>Do you want to receive our {channel.value} messages?</p>" + form)


@router.post("/confirm", response_class=HTMLResponse)
async def confirm(
    request: Request, pipeline: PipelineDep, settings: SettingsDep, token: str | None = None
) -> HTMLResponse:
    """The recipient's click: a ``confirmed`` outcome on the outcomes topic; 200, no redirect.
    The token may also come in the form body (the page's button posts to the same URL)."""
    form = await request.form() if is_form(request) else None
    if token is None and form is not None and isinstance(form.get("token"), str):
        token = str(form.get("token"))
    contact_id, channel = _subject(settings, token)
    assert token is not None
    outcome = TouchOutcome(
        id="confirm:" + hashlib.sha256(token.encode()).hexdigest()[:32],
        contact_id=contact_id,
        channel=channel,
        status=OutcomeStatus.CONFIRMED,
        detail="double-opt-in link confirmed by the recipient",
        occurred_at=datetime.now(UTC),
    )
    await pipeline.report([outcome])
    return page("Confirmed", f"<p>Thank you: you will receive our {channel.value} messages.</p>")
