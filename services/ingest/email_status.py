"""``POST /v1/email/status``: a simple JSON delivery callback from an email provider (or relay),
translated into an outcome on ``trellis.outcomes.v1``.

A complaint or a hard bounce suppresses the contact, so only a ``provider`` source may send one:
by its write key (``/v1/email/status``) or signed with its webhook secrets, which rotate with
overlap (``/v1/email/status/{source_id}``, Standard Webhooks). A producer's key gets 403."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum

from fastapi import APIRouter, Request, status
from pydantic import Field, ValidationError

from schemas.base import NO_CONTROL_PATTERN as NO_CONTROL
from schemas.base import AwareDatetime, WireModel
from schemas.commands import Channel
from schemas.outcomes import OutcomeStatus, TouchOutcome
from services.ingest.auth import ProviderSourceDep, SignedProviderSourceDep
from services.ingest.body import decode, parse_json, read_json
from services.ingest.native import Accepted
from services.ingest.pipeline import Pipeline, PipelineDep, SettingsDep
from services.ingest.settings import IngestSettings
from services.ingest.validation import InvalidEvents

router = APIRouter(prefix="/v1/email", tags=["callbacks"])
MAX_OUTCOME_ID = 200


class EmailStatus(StrEnum):
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    FAILED = "failed"


class EmailStatusCallback(WireModel):
    id: str | None = Field(default=None, min_length=1, max_length=200, pattern=NO_CONTROL)
    contact_id: str = Field(min_length=1, max_length=64, pattern=NO_CONTROL)
    touch_id: str | None = Field(default=None, max_length=200, pattern=NO_CONTROL)
    status: EmailStatus
    provider_id: str | None = Field(default=None, max_length=200, pattern=NO_CONTROL)
    detail: str | None = Field(default=None, max_length=2000)
    occurred_at: AwareDatetime | None = None

    def to_outcome(self, now: datetime) -> TouchOutcome:
        stable = self.id or _derived_id(self.provider_id or self.touch_id or "", self.status)
        return TouchOutcome(
            id=stable,
            touch_id=self.touch_id,
            contact_id=self.contact_id,
            channel=Channel.EMAIL,
            status=OutcomeStatus(self.status.value),
            retryable=False,
            provider_id=self.provider_id,
            detail=self.detail,
            occurred_at=self.occurred_at or now,
        )


def _derived_id(reference: str, status: EmailStatus) -> str:
    """``email-status:<provider id>:<status>``, hashed when that would pass the outcome id's
    200 characters (a provider's id may be up to 200 itself)."""
    derived = f"email-status:{reference}:{status}"
    if len(derived) <= MAX_OUTCOME_ID:
        return derived
    return f"email-status:sha256:{hashlib.sha256(derived.encode()).hexdigest()}"


@router.post("/status", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def email_status(
    request: Request, _source: ProviderSourceDep, pipeline: PipelineDep, settings: SettingsDep
) -> Accepted:
    """One callback; ``id`` (else provider id + status) is the dedup key downstream."""
    _, raw = await read_json(request, settings.ingest_max_body_bytes)
    return await _report(raw, pipeline, settings)


@router.post("/status/{source_id}", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def signed_email_status(
    request: Request,
    _source: SignedProviderSourceDep,
    pipeline: PipelineDep,
    settings: SettingsDep,
) -> Accepted:
    """The same callback, signed (Standard Webhooks) with the provider source's secret."""
    limit = settings.ingest_max_body_bytes
    body = decode(request.state.raw_body, request.headers.get("content-encoding"), limit)
    return await _report(parse_json(body), pipeline, settings)


async def _report(raw: object, pipeline: Pipeline, settings: IngestSettings) -> Accepted:
    try:
        callback = EmailStatusCallback.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise InvalidEvents(errors, None) from None
    if callback.id is None and callback.provider_id is None and callback.touch_id is None:
        raise InvalidEvents(
            [
                {
                    "loc": ["body", "id"],
                    "msg": "id, provider_id or touch_id is required",
                    "type": "missing",
                }
            ],
            None,
        )
    now = datetime.now(UTC)
    if callback.occurred_at is not None:
        problem = settings.event_time_window.problem(callback.occurred_at, now)
        if problem is not None:
            raise InvalidEvents(
                [{"loc": ["body", "occurred_at"], "msg": problem, "type": "implausible_time"}],
                None,
            )
    outcome = callback.to_outcome(now)
    await pipeline.report([outcome])
    return Accepted(accepted=1, ids=[outcome.id])
