"""Decision-log vocabulary for touches and reminders (the ``kind`` and ``reason`` columns)."""

from __future__ import annotations

import hashlib
from enum import StrEnum

from services.orchestrator.domain.reasons import Reason


class TouchDecision(StrEnum):
    TOUCH_PLANNED = "touch_planned"
    TOUCH_NOT_PLANNED = "touch_not_planned"
    TOUCH_DISPATCHED = "touch_dispatched"
    TOUCH_DEFERRED = "touch_deferred"
    TOUCH_SKIPPED = "touch_skipped"
    TOUCH_RETRY_PLANNED = "touch_retry_planned"
    TOUCH_FAILED = "touch_failed"
    REMINDER_CREATED = "reminder_created"
    REMINDER_DEDUPLICATED = "reminder_deduplicated"
    OWNER_CHANGED = "owner_changed"
    OWNER_REFUSED = "owner_refused"
    PRICING_VIEWED = "pricing_viewed"
    ACCOUNT_PAUSED = "account_paused"
    ACCOUNT_RESUMED = "account_resumed"
    HANDOFF_CREATED = "handoff_created"
    HANDOFF_COMPLETED = "handoff_completed"
    HANDOFF_BREACHED = "handoff_breached"
    HANDOFF_ESCALATED = "handoff_escalated"


LaterReason = Reason  # after planning: a retry, the reminder clock, a re-dispatch
PlanReason = Reason  # why a touch or reminder was planned
DispatchProblem = Reason  # why a due touch could not go out besides eligibility


def stable_id(prefix: str, *parts: str) -> str:
    """A short id derived from ``parts``: the same facts always give the same id."""
    return prefix + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def pick_rep(pool: tuple[str, ...], key: str) -> str | None:
    """A round-robin pool member chosen deterministically by ``key`` (an account id)."""
    if not pool:
        return None
    return pool[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(pool)]
