"""Recording consent by hand (``POST /v1/contacts/{id}/consent``): who may, and what it does.

An operator's word never outranks the recipient's: a grant made after the recipient's own
opt-out (unsubscribe, STOP, complaint, hard bounce) is kept in the ledger as *refused* and
answered 409, and the channel stays blocked. A ``rep`` key records consent only for the contacts
it owns (the contact's or its account's ``owner_rep``), and a grant needs evidence: how it was
given (``method``) and what proves it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters import consent_store, decision_log
from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.adapters.tables import accounts, contacts
from services.orchestrator.application import planning
from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import (
    Actor,
    ConsentEntry,
    ConsentStatus,
    LedgerRow,
    RefusedGrant,
    summary,
)
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.stages import DecisionKind
from services.orchestrator.domain.state import LogEntry
from services.orchestrator.ops import queries
from services.orchestrator.ops.auth import Principal, Scope, WriteKey, forbidden
from services.orchestrator.ops.errors import not_found
from services.orchestrator.ops.models import ConsentState, answers
from services.orchestrator.ops.params import PathId
from services.orchestrator.people import recipient_of

CONSENT_SOURCE = "ops-api"

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


class ConsentIn(BaseModel):
    channel: Channel
    status: ConsentStatus
    method: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[\w .\-]+$",
        description="how it was given: form, call, email, paper, import, ... (grants: required)",
    )
    evidence: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="where and what proves it (grants: required), e.g. a form id and the date",
    )

    @model_validator(mode="after")
    def _grants_have_evidence(self) -> ConsentIn:
        if self.status is ConsentStatus.GRANTED and not (self.method and self.evidence):
            raise ValueError("a grant needs evidence: method and evidence")
        return self


async def _owners(conn: AsyncConnection, contact_id: str) -> set[str] | None:
    """The reps who own a contact (its own owner and its account's), or None if unknown."""
    row = (
        await conn.execute(
            select(contacts.c.owner_rep, accounts.c.owner_rep.label("account_owner"))
            .select_from(contacts.outerjoin(accounts, accounts.c.id == contacts.c.account_id))
            .where(contacts.c.id == contact_id)
        )
    ).first()
    if row is None:
        return None
    return {o.strip().lower() for o in (row.owner_rep, row.account_owner) if o}


async def _replan(conn: AsyncConnection, contact_id: str, ctx: planning.Context) -> None:
    """A grant may add touches, a withdrawal cancels the planned ones on that channel."""
    log: list[DecisionRecord] = []
    uow = SqlUnitOfWork(conn)
    person = (await uow.contacts.views({contact_id})).get(contact_id)
    accs = await uow.accounts.views({person.account_id} if person and person.account_id else ())
    who = recipient_of(person, accs.get(person.account_id or ""), ctx.config) if person else None
    if who is not None:
        await planning.replan(uow, ctx, {contact_id: who}, {contact_id: None}, set(), log)
    else:
        await planning.cancel_unreachable(uow, ctx, {contact_id: None}, {}, log)
    await uow.decisions.log(log)


def _may_record(key: Principal, owners: set[str]) -> bool:
    if key.scope is Scope.ADMIN:
        return True
    return key.rep is not None and key.rep.strip().lower() in owners


@router.post(
    "/{contact_id}/consent",
    status_code=status.HTTP_201_CREATED,
    **answers(ConsentState),
    responses={
        403: {"description": "a rep key for a contact it does not own"},
        404: {"description": "no such contact"},
        409: {"description": "a grant refused: the recipient opted out (recorded as refused)"},
    },
)
async def record_consent(
    contact_id: PathId, body: ConsentIn, key: WriteKey, request: Request
) -> Any:
    """Append to the consent ledger (source ``ops-api``); answers the derived current state."""
    now = request.app.state.clock()
    said = "; ".join(
        f"{k}={v}" for k, v in (("method", body.method), ("evidence", body.evidence)) if v
    )
    evidence = f"{said} [{key.label}]".strip()
    entry = ConsentEntry(
        contact_id, body.channel, body.status, CONSENT_SOURCE, evidence, now, Actor.OPERATOR
    )
    async with request.app.state.engine.begin() as conn:
        owners = await _owners(conn, contact_id)
        if owners is None:
            raise not_found("contact", contact_id)
        if not _may_record(key, owners):
            raise forbidden("a rep key records consent only for contacts that rep owns")
        (written,) = await consent_store.record(conn, [LedgerRow(entry, None)])
        reason, facts = summary(written.item)
        await decision_log.add_decisions(conn, [LogEntry(
            kind=DecisionKind.CONSENT_CHANGED, reason=reason, contact_key=contact_id,
            account_key=None, event_id=None, facts=facts, playbook_version=CONSENT_SOURCE,
            decided_at=now)])  # fmt: skip
        if not isinstance(written.item, RefusedGrant):  # the plan shows what will be sent now
            await _replan(conn, contact_id, planning.Context(request.app.state.nurture, now))
        state = await queries.consent_state(
            conn, contact_id, now=now, bases=request.app.state.bases
        )
    if isinstance(written.item, RefusedGrant):
        return JSONResponse(
            {
                "error": "refused",
                "message": (
                    f"the recipient opted out of {body.channel.value}; only their own verified "
                    "act (SMS START, a double-opt-in link) lifts it. Recorded as refused."
                ),
                "refusal": written.item.reason.value,
                "consent": jsonable_encoder(state),
            },
            status_code=status.HTTP_409_CONFLICT,
        )
    return state
