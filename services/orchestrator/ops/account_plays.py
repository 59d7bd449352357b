"""The account answer's committee gap (ops API and dashboard): the playbook's rule
(``domain.account_plays.committee_gap``) over the account's stored state, with the people it
names as the stakeholders the answer lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.orchestrator.domain.account_plays import committee_gap
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
