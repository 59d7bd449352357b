"""Who planning is about: the nurture plan and its reps (``Nurture``), and the contacts and
accounts a decision needs, read without their lifecycle documents (``load_people``), as the
planner's ``Recipient``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.tables import accounts, contacts
from services.orchestrator.domain.eligibility import Recipient
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.owners import RepDirectory
from services.orchestrator.domain.quiet_hours import resolve_timezone
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.touch_log import pick_rep
from services.orchestrator.domain.views import AccountView, ContactView


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
    contact: ContactView,
    account: AccountView | None,
    config: NurtureConfig,
    rep: str | None = None,
) -> Recipient | None:
    """``rep``: the rep a reminder goes to, whose zone (rep directory) sets its window."""
    if contact.stage is None or contact.stage not in Stage._value2member_map_:
        return None
    region = account.traits.get("region") if account is not None else None
    nps = contact.traits.get("nps")
    acc_stage = account.stage if account is not None else None
    return Recipient(
        contact_id=contact.id,
        account_id=contact.account_id,
        stage=Stage(contact.stage),
        timezone=resolve_timezone(
            contact.timezone, region, config.region_timezones, config.default_timezone
        ),
        role=contact.role,
        account_stage=(
            Stage(acc_stage)
            if acc_stage is not None and acc_stage in Stage._value2member_map_
            else None
        ),
        nps=nps if isinstance(nps, int) else None,
        rep_timezone=config.rep_zone(rep),
    )


def rep_for(contact: ContactView, account: AccountView | None, pool: tuple[str, ...]) -> str | None:
    return (
        contact.owner_rep
        or (account.owner_rep if account is not None else None)
        or pick_rep(pool, contact.account_id or contact.id)
    )


def _without_state(table: Any) -> list[Any]:
    """Every column but the lifecycle ``state`` document: touches never read it, and decoding
    it was most of what loading recipients cost."""
    return [c for c in table.c if c.name != "state"]


async def load_people(
    conn: AsyncConnection, contact_ids: set[str]
) -> tuple[dict[str, ContactView], dict[str, AccountView]]:
    if not contact_ids:
        return {}, {}
    rows = await conn.execute(
        select(*_without_state(contacts)).where(contacts.c.id.in_(sorted(contact_ids)))
    )
    people = {r["id"]: ContactView.from_row(r) for r in rows.mappings()}
    account_ids = sorted({p.account_id for p in people.values() if p.account_id})
    accs: dict[str, AccountView] = {}
    if account_ids:
        rows = await conn.execute(
            select(*_without_state(accounts)).where(accounts.c.id.in_(account_ids))
        )
        accs = {r["id"]: AccountView.from_row(r) for r in rows.mappings()}
    return people, accs
