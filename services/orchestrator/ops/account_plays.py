"""The account answer's plays (ops API and dashboard): its committee gap, the playbook's rule
(``domain.account_plays.committee_gap``) over the account's stored state, and its running
pause (``active_pauses`` over the decision log), naming people as the answer lists them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.application.account_plays import LONGEST_PAUSE
from services.orchestrator.domain.account_plays import active_pauses, committee_gap
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.state import AccountState


def gap_answer(
    state: Mapping[str, Any] | None,
    people: Sequence[Mapping[str, Any]],
    wanted_roles: Mapping[Stage, tuple[str, ...]],
) -> dict[str, Any] | None:
    """``{stage, missing, closest, champion}`` when the account's stage lacks every wanted
    role, else None (no state yet: no gap to tell)."""
    if not state or "key" not in state:
        return None
    gap = committee_gap(AccountState.from_dict(state), wanted_roles)
    if gap is None:
        return None
    by_id = {p["id"]: p for p in people}
    return {
        "stage": gap.stage.value,
        "missing": list(gap.missing),
        "closest": [by_id[k] for k in gap.closest if k in by_id],
        "champion": by_id.get(gap.champion or ""),
    }


async def pause_answer(
    conn: AsyncConnection, account_id: str, now: datetime, people: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """``{until, by, event_type, event_id}`` of the pause holding the account's marketing now
    (the latest end when several run), else None."""
    marks = await SqlUnitOfWork(conn).decisions.account_pauses([account_id], now - LONGEST_PAUSE)
    running = active_pauses(marks, now).get(account_id)
    if not running:
        return None
    last = max(running, key=lambda p: (p.until, p.event_id))
    by = next((p for p in people if p["id"] == last.contact_id), None)
    return {"until": last.until, "by": by, "event_type": last.event_type,
            "event_id": last.event_id}  # fmt: skip
