"""Builders for orchestrator unit tests: engagements and one-contact runs of decide()."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.domain.state import ContactState, Decision

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ICP_ACCOUNT = {"industry": "software", "employees": 400, "region": "emea"}
_ids = count()


def ev(
    type_: str,
    day: float = 0,
    contact: str = "c1",
    account: str | None = "acme",
    role: str | None = "manager",
    account_traits: dict[str, Any] | None = None,
    event_id: str | None = None,
    **properties: Any,
) -> Engagement:
    return Engagement(
        event_id=event_id or f"e{next(_ids)}",
        type=type_,
        occurred_at=T0 + timedelta(days=day),
        properties=properties,
        contact_key=contact,
        account_key=account,
        contact_traits={"role": role} if role else {},
        account_traits=ICP_ACCOUNT if account_traits is None else account_traits,
    )


def run(
    events: Sequence[Engagement],
    playbook: Playbook,
    now: datetime | None = None,
    state: ContactState | None = None,
) -> Decision:
    last = max((e.occurred_at for e in events), default=T0)
    contacts = {state.key: state} if state else {}
    return decide(contacts, {}, events, playbook, now or last + timedelta(hours=1))


def stage_after(events: Sequence[Engagement], playbook: Playbook) -> str | None:
    state = run(events, playbook).contacts["c1"]
    return state.stage
