"""RFC 8058 one-click unsubscribe: ``POST /v1/unsubscribe?token=...`` from mail clients, and a
``GET`` confirmation page whose button POSTs (GET never unsubscribes: scanners prefetch links).

Public and token-authorised; idempotent (the outcome id is derived from the token, so a repeated
POST republishes the same outcome, which the orchestrator deduplicates); never redirects.
"""

from __future__ import annotations

import hashlib
import html
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse

from schemas.commands import Channel
from schemas.outcomes import OutcomeStatus, TouchOutcome
from services.ingest.callback_tokens import TokenProblem, check, unsubscribe_signer
from services.ingest.pipeline import PipelineDep, SettingsDep
from services.ingest.settings import IngestSettings
from trellis.signed_tokens import UnsubscribeSigner

router = APIRouter(prefix="/v1", tags=["callbacks"])


def link_value(signer: UnsubscribeSigner, token: str | None, link: str, renew: str) -> str:
    """The signed value of a link's token, or the HTTP error a person reading it understands:
    400 without a token or when expired (``renew`` says what to do), 403 when forged."""
    checked = check(signer, token, datetime.now(UTC))
    if checked.problem is TokenProblem.MISSING:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{link} link has no token")
    if checked.problem is TokenProblem.EXPIRED:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{link} link has expired; {renew}")
    if checked.problem is not None or checked.value is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{link} link is not valid")
    return checked.value


def page(title: str, body: str, code: int = 200) -> HTMLResponse:
    doc = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f"{body}</body></html>"
    )
    return HTMLResponse(doc, status_code=code, headers={"Cache-Control": "no-store"})


def _contact(settings: IngestSettings, token: str | None) -> str:
    secret = settings.unsubscribe_secret.get_secret_value().encode()
    return link_value(
        unsubscribe_signer(secret), token, "unsubscribe", "use the link in a more recent email"
    )


@router.get("/unsubscribe", response_class=HTMLResponse)
async def unsubscribe_page(settings: SettingsDep, token: str | None = None) -> HTMLResponse:
    """A confirmation page; only its button (a POST) unsubscribes."""
    try:
        _contact(settings, token)
    except HTTPException as exc:
        return page("Unsubscribe", f"<p>{html.escape(str(exc.detail))}.</p>", exc.status_code)
    action = html.escape(f"/v1/unsubscribe?token={token}", quote=True)
    form = (
        f"<form method='post' action='{action}'>"
        "<input type='hidden' name='List-Unsubscribe' value='One-Click'>"
        "<button type='submit'>Unsubscribe from these emails</button></form>"
    )
    return page("Unsubscribe", "<p>Stop receiving nurture emails from us?</p>" + form)


@router.post("/unsubscribe", response_class=HTMLResponse)
async def unsubscribe(
    request: Request, pipeline: PipelineDep, settings: SettingsDep, token: str | None = None
) -> HTMLResponse:
    """One click (``List-Unsubscribe=One-Click``, urlencoded or multipart); 200, no redirect."""
    form = await request.form() if is_form(request) else None
    if token is None and form is not None and isinstance(form.get("token"), str):
        token = str(form.get("token"))
    contact_id = _contact(settings, token)
    assert token is not None
    outcome = TouchOutcome(
        id="unsubscribe:" + hashlib.sha256(token.encode()).hexdigest()[:32],
        contact_id=contact_id,
        channel=Channel.EMAIL,
        status=OutcomeStatus.UNSUBSCRIBED,
        detail="one-click unsubscribe (RFC 8058)",
        occurred_at=datetime.now(UTC),
    )
    await pipeline.report([outcome])
    return page("Unsubscribed", "<p>You will not receive these emails any more.</p>")


def is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind in ("application/x-www-form-urlencoded", "multipart/form-data")
