"""``GET /v1/accounts/{id}/owners``: who owns the account in each team now, who did before, and
its handoffs between teams with their clocks (issue 23). Read through the unit of work's
``handoffs`` repository, the same one the orchestrator writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.ops import queries
from services.orchestrator.ops.auth import ReadKey
from services.orchestrator.ops.errors import not_found
from services.orchestrator.ops.models import Time, answers
from services.orchestrator.ops.params import PathId
from services.orchestrator.ops.routes import Conn

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])
SHOWN = 20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # every handoff, the open ones and all closed


class TeamOwnerAnswer(BaseModel):
    team: str
    owner: str
    previous_owner: str | None = Field(description="who owned it in this team before")
    since: Time
    source: str = Field(description="crm (an owner change, a CSM on the deal) | pool")


class HandoffAnswer(BaseModel):
    id: str
    kind: str = Field(description="mql_accept | sql_first_contact | csm_kickoff")
    team: str
    owner: str | None
    previous_owner: str | None = Field(description="who handed the account over")
    contact_id: str
    created_at: Time
    deadline_at: Time
    escalate_at: Time
    accepted_at: Time | None
    first_contact_at: Time | None
    completed_at: Time | None
    breached_at: Time | None
    escalated_at: Time | None
    escalated_to: str | None


class AccountOwners(BaseModel):
    account_id: str
    owners: list[TeamOwnerAnswer] = Field(description="per team, with the owner before")
    sales_owner: str | None = Field(description="the account's rep (its owner_rep)")
    handoffs: list[HandoffAnswer] = Field(description="open first, then the latest closed")


@router.get("/{account_id}/owners", **answers(AccountOwners))
async def account_owners(account_id: PathId, _key: ReadKey, conn: Conn) -> dict[str, Any]:
    """The account's owner per team now and before, and its handoffs with their clocks."""
    if not await queries.account_exists(conn, account_id):
        raise not_found("account", account_id)
    uow = SqlUnitOfWork(conn)
    owners = await uow.handoffs.owners([account_id])
    view = (await uow.accounts.views([account_id])).get(account_id)
    found = await uow.handoffs.recent([account_id], since=_EPOCH)
    found.sort(key=lambda h: (not h.open, -h.created_at.timestamp()))
    return {
        "account_id": account_id,
        "owners": [
            {"team": o.team, "owner": o.owner, "previous_owner": o.previous_owner,
             "since": o.since, "source": o.source}
            for (_, _team), o in sorted(owners.items())
        ],
        "sales_owner": view.owner_rep if view else None,
        "handoffs": [
            {**{k: getattr(h, k) for k in HandoffAnswer.model_fields}, "kind": h.kind.value}
            for h in found[:SHOWN]
        ],
    }  # fmt: skip
