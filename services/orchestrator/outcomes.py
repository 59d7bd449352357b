"""The outcomes consumer's adapter: decode delivery outcomes (the notifier's and the providers'
callbacks), then ``handle_outcomes`` (``application.outcomes``) in one SQL unit of work."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.outcomes import TouchOutcome
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.application.outcomes import TOUCH_STATUS as TOUCH_STATUS
from services.orchestrator.application.outcomes import handle_outcomes
from services.orchestrator.application.unit_of_work import InboxEntry
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.touch_retry import TouchRetryPolicy
from trellis.consumer import Record, Rejected

OUTCOME_INBOX_PREFIX = "outcome:"  # outcome ids share the inbox with event ids
MAX_EVENT_ID = 200  # the inbox's and the logs' event_id columns


def inbox_id(outcome: TouchOutcome) -> str:
    """The outcome's key in the inbox and the logs: ``outcome:<id>``, or, for an id so long the
    prefix would overflow the column (a provider's 200-character id), a digest of it."""
    key = OUTCOME_INBOX_PREFIX + outcome.id
    if len(key) <= MAX_EVENT_ID:
        return key
    return f"{OUTCOME_INBOX_PREFIX}sha256:{hashlib.sha256(outcome.id.encode()).hexdigest()}"


async def apply_outcomes(
    records: Sequence[Record],
    engine: AsyncEngine,
    playbook_version: str,
    now: datetime,
    retry: TouchRetryPolicy | None = None,
    plan: NurtureConfig | None = None,
) -> list[Rejected]:
    """``plan``: the nurture plan (its consent bases decide which planned touches a STOP,
    unsubscribe or complaint cancels at once); the shipped default when not given. ``retry``:
    the policy for transient failures (none: a failure is final)."""
    received: list[tuple[InboxEntry, TouchOutcome]] = []
    rejected: list[Rejected] = []
    for r in records:
        try:
            o = TouchOutcome.model_validate_json(r.value or b"")
        except ValidationError as exc:
            first = exc.errors()[0]
            rejected.append(Rejected(r, f"schema: {first['loc']}: {first['msg']}"))
            continue
        received.append((InboxEntry(inbox_id(o), r.topic, r.partition, r.offset), o))
    async with SqlUnitOfWork.begin(engine) as uow:
        config = plan or default_nurture()
        await handle_outcomes(uow, received, config, playbook_version, now, retry)
    return rejected
