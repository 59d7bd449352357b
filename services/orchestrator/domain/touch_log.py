"""Decision-log vocabulary for touches and reminders (the ``kind`` and ``reason`` columns)."""

from __future__ import annotations

import hashlib
from enum import StrEnum


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


class LaterReason(StrEnum):
    """Reasons of the decisions taken after planning: a retry, a reminder's clock, a stale
    dispatch."""

    PROVIDER_TRANSIENT = "PROVIDER_TRANSIENT"
    REMINDER_EXPIRED = "REMINDER_EXPIRED"
    SNOOZE_ENDED = "SNOOZE_ENDED"
    REDISPATCHED = "REDISPATCHED"
    """Still ``dispatched`` without an outcome: its command was published again."""


class PlanReason(StrEnum):
    STAGE_ENTERED = "STAGE_ENTERED"
    REP_RULE = "REP_RULE"
    ALLOWED = "ALLOWED"


class DispatchProblem(StrEnum):
    """Reasons besides ``SkipReason`` that a due touch cannot go out."""

    NO_ADDRESS = "NO_ADDRESS"
    NO_REP = "NO_REP"
    UNKNOWN_STEP = "UNKNOWN_STEP"
    UNKNOWN_CONTACT = "UNKNOWN_CONTACT"


def stable_id(prefix: str, *parts: str) -> str:
    """A short id derived from ``parts``: the same facts always give the same id."""
    return prefix + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def pick_rep(pool: tuple[str, ...], key: str) -> str | None:
    """A round-robin pool member chosen deterministically by ``key`` (an account id)."""
    if not pool:
        return None
    return pool[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(pool)]
