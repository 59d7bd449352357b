"""An account's owner per team (issue 23): from CRM events (``crm_owner_changed`` with a
``team``, a plain one being sales; ``deal_closed_won`` with ``csm_email`` / ``csm_owner_id``),
else the team's least-loaded member under its capacity; the owner before is kept. Sales keeps
its owner on the account row too (``owner_rep``), so every reminder goes to the same rep."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from services.orchestrator.application.rep_reminders import least_loaded
from services.orchestrator.application.unit_of_work import UnitOfWork
from services.orchestrator.domain.handoffs import (
    SALES,
    TeamOwner,
    crm_team_claim,
    least_loaded_member,
)
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.owners import OwnerRefused, resolve_owner
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.records import decided as record
from services.orchestrator.domain.reminders import Signal
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.domain.views import AccountView
from services.orchestrator.people import Nurture

Log = list[DecisionRecord]


async def owner_changes(
    uow: UnitOfWork, nurture: Nurture, signals: Sequence[Signal], now: datetime, log: Log
) -> None:
    """``crm_owner_changed`` with a ``team`` (a plain one is sales), ``deal_closed_won`` with a
    CSM: the account's owner in that team, the one before kept. Sales refusals are logged by
    ``rep_reminders.owner_changes`` already."""
    wanted = [s for s in signals if s.account_id and s.type in ("crm_owner_changed",
                                                                "deal_closed_won")]  # fmt: skip
    if not wanted:
        return
    accounts = {s.account_id for s in wanted if s.account_id}
    owners = await uow.handoffs.owners(accounts)
    accs = await uow.accounts.views(accounts)
    for s in wanted:
        assert s.account_id is not None
        claim = crm_team_claim(s.type, s.properties)
        if claim is None and s.type != "crm_owner_changed":
            continue
        team, props = claim or (SALES, dict(s.properties))
        owner = resolve_owner(props, nurture.reps)
        if isinstance(owner, OwnerRefused):
            if team != SALES:
                log.append(record(TouchDecision.OWNER_REFUSED, owner.reason, s.contact_id,
                                  s.account_id, now, {"team": team, "claimed": owner.claimed},
                                  event_id=s.event_id))  # fmt: skip
            continue
        before = current_owner(owners, accs, s.account_id, team)
        if before == owner:
            continue
        owners[(s.account_id, team)] = TeamOwner(s.account_id, team, owner, before, now, "crm")
        await uow.handoffs.set_owners([owners[(s.account_id, team)]])
        if team != SALES:  # the sales change is logged as before (``owner_changes``)
            log.append(record(TouchDecision.OWNER_CHANGED, Reason.CRM_OWNER, s.contact_id,
                              s.account_id, now, {"owner": owner, "team": team,
                                                  "previous_owner": before},
                              event_id=s.event_id))  # fmt: skip


def current_owner(
    owners: Mapping[tuple[str, str], TeamOwner],
    accs: Mapping[str, AccountView],
    account_id: str,
    team: str | None,
) -> str | None:
    """The account's owner in ``team``: its row, else (sales) the account's owner rep."""
    if team is None:
        return None
    row = owners.get((account_id, team))
    if row is not None:
        return row.owner
    account = accs.get(account_id)
    return account.owner_rep if team == SALES and account is not None else None


async def owner_for(
    uow: UnitOfWork,
    config: NurtureConfig,
    owners: dict[tuple[str, str], TeamOwner],
    accs: Mapping[str, AccountView],
    account_id: str,
    team: str,
    now: datetime,
    log: Log,
    pool: Sequence[str] = (),
) -> str | None:
    """The receiving team's owner of the account; nobody yet: the least-loaded member (stored,
    and for sales also as the account's owner rep, so every reminder goes to the same person).
    A rep pool (``TRELLIS_ORCHESTRATOR_REP_POOL``) is who the operator named for new leads, so
    sales picks from it as the rep reminders would, rather than from the whole team."""
    if owner := current_owner(owners, accs, account_id, team):
        return owner
    if team == SALES and pool:
        load = await uow.accounts.owned_counts(pool)
        pick: str | None = least_loaded(pool, load)
    else:
        load = await uow.handoffs.owned_counts(team)
        pick = least_loaded_member(config.team(team), load)
    if pick is None:
        return None
    owners[(account_id, team)] = TeamOwner(account_id, team, pick, None, now, "pool")
    await uow.handoffs.set_owners([owners[(account_id, team)]])
    if team == SALES:
        await uow.accounts.set_owners({account_id: pick}, if_unowned=True)
    log.append(record(TouchDecision.OWNER_CHANGED, Reason.POOL_ASSIGNED, None, account_id, now,
                      {"owner": pick, "team": team, "load": load.get(pick, 0)}))  # fmt: skip
    return pick
