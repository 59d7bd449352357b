"""One decision record: every yes and no the orchestrator logs, with its reason, the facts it
was decided on and (where there is one) the event behind it. ``decision_log.log_decisions`` is
its one writer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.orchestrator.domain.reasons import Reason


@dataclass(frozen=True, kw_only=True)
class DecisionRecord:
    """``kind``: a ``TouchDecision`` value (or the ops API's ``reminder_<status>``);
    ``reason``: a ``Reason``, stored as its string."""

    contact_id: str | None
    account_id: str | None
    touch_id: str | None = None
    kind: str
    reason: Reason
    facts: Mapping[str, Any]
    event_id: str | None = None
    playbook_version: str
    decided_at: datetime

    def row(self) -> dict[str, Any]:
        """The ``decisions`` table's columns."""
        return {
            "contact_id": self.contact_id, "account_id": self.account_id,
            "touch_id": self.touch_id, "kind": str(self.kind), "reason": str(self.reason),
            "facts": dict(self.facts), "event_id": self.event_id,
            "playbook_version": self.playbook_version, "decided_at": self.decided_at,
        }  # fmt: skip


def decided(
    kind: str, reason: Reason, contact_id: str | None, account_id: str | None, now: datetime,
    facts: Mapping[str, Any], *, touch_id: str | None = None, event_id: str | None = None,
    version: str = "nurture",
) -> DecisionRecord:  # fmt: skip
    """A record in the order the handlers think of it (what, why, who, when, on what); the two
    optional ids by name, so a touch id is never logged as the event behind a decision."""
    return DecisionRecord(
        contact_id=contact_id, account_id=account_id, touch_id=touch_id, kind=kind, reason=reason,
        facts=facts, event_id=event_id, playbook_version=version, decided_at=now,
    )  # fmt: skip
