"""Who planning is about: the nurture plan and its reps (``Nurture``), and the contacts and
accounts a decision needs, read without their lifecycle documents (``load_people``), as the
planner's ``Recipient``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters import touch_store
from services.orchestrator.adapters.tables import accounts, contacts
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.eligibility import Recipient
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.owners import RepDirectory
from services.orchestrator.domain.quiet_hours import resolve_timezone
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.touch_log import TouchDecision, pick_rep


@dataclass(frozen=True)
class Nurture:
    """What planning needs besides the batch: the plan, the reps' round-robin pool and the
    domains whose addresses are reps (``TRELLIS_REP_DOMAINS``)."""

    config: NurtureConfig
    rep_pool: tuple[str, ...] = ()
    rep_domains: tuple[str, ...] = ()

    @property
    def reps(self) -> RepDirectory:
        return RepDirectory(self.config.reps, self.rep_pool, self.rep_domains)


def recipient_of(
    contact: Mapping[str, Any],
    account: Mapping[str, Any] | None,
    config: NurtureConfig,
    rep: str | None = None,
) -> Recipient | None:
    """``rep``: the rep a reminder goes to, whose zone (rep directory) sets its window."""
    if contact["stage"] not in Stage._value2member_map_:
        return None
    traits = contact["traits"] or {}
    region = ((account or {}).get("traits") or {}).get("region")
    nps = traits.get("nps")
    acc_stage = str((account or {}).get("stage"))
    return Recipient(
        contact_id=contact["id"],
        account_id=contact["account_id"],
        stage=Stage(contact["stage"]),
        timezone=resolve_timezone(
            contact["timezone"], region, config.region_timezones, config.default_timezone
        ),
        role=contact["role"],
        account_stage=Stage(acc_stage) if acc_stage in Stage._value2member_map_ else None,
        nps=nps if isinstance(nps, int) else None,
        rep_timezone=config.rep_zone(rep),
    )


def rep_for(
    contact: Mapping[str, Any], account: Mapping[str, Any] | None, pool: tuple[str, ...]
) -> str | None:
    return (
        contact.get("owner_rep")
        or (account or {}).get("owner_rep")
        or pick_rep(pool, contact.get("account_id") or contact["id"])
    )


def _without_state(table: Any) -> list[Any]:
    """Every column but the lifecycle ``state`` document: touches never read it, and decoding
    it was most of what loading recipients cost."""
    return [c for c in table.c if c.name != "state"]


async def load_people(
    conn: AsyncConnection, contact_ids: set[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    if not contact_ids:
        return {}, {}
    rows = await conn.execute(
        select(*_without_state(contacts)).where(contacts.c.id.in_(sorted(contact_ids)))
    )
    people = {r["id"]: dict(r) for r in rows.mappings()}
    account_ids = sorted({p["account_id"] for p in people.values() if p["account_id"]})
    accs: dict[str, dict[str, Any]] = {}
    if account_ids:
        rows = await conn.execute(
            select(*_without_state(accounts)).where(accounts.c.id.in_(account_ids))
        )
        accs = {r["id"]: dict(r) for r in rows.mappings()}
    return people, accs


def touch_row(
    touch_id: str, contact_id: str, account_id: str | None, channel: TouchChannel, template: str,
    stage: Stage, step: str, due_at: datetime, now: datetime,
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": touch_id, "contact_id": contact_id, "account_id": account_id,
        "channel": channel.value, "template_id": template, "stage": stage.value,
        "sequence_step": step, "status": touch_store.PLANNED, "reason": None, "due_at": due_at,
        "claimed_by": None, "claimed_at": None, "dispatched_at": None, "created_at": now,
    }  # fmt: skip


def decision_row(
    kind: TouchDecision, reason: str, contact_id: str | None, account_id: str | None,
    touch_id: str | None, now: datetime, version: str, facts: dict[str, Any],
    event_id: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "contact_id": contact_id, "account_id": account_id, "touch_id": touch_id,
        "kind": kind.value, "reason": str(reason), "facts": facts, "event_id": event_id,
        "playbook_version": version or "nurture", "decided_at": now,
    }  # fmt: skip
