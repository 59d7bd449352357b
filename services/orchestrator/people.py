"""Who planning is about: the nurture plan and its reps (``Nurture``), a contact and its account
as the planner's ``Recipient``, and the rep a reminder goes to."""

from __future__ import annotations

from dataclasses import dataclass

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
