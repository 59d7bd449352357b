"""Topic names and the dead-letter naming rule."""

from __future__ import annotations

ENGAGEMENT = "trellis.engagement.v1"
"""Engagement events from ingest. Key: account id, else contact id."""

HANDRAISES = "trellis.handraises.v1"
"""The live hand-raises among the engagement events (``HAND_RAISE_TYPES``: a demo or a talk with
sales asked for), from ingest, with ``ENGAGEMENT``'s key and partition count. The orchestrator
reads a partition of it in the lane of the same engagement partition and ahead of it, so a
backlog of page views never holds the rep's reminder; events of either topic are applied by
their ``occurred_at`` (a hand-raise that overtakes its account's earlier events makes them late,
as any out-of-order arrival does)."""

ENGAGEMENT_TOPICS: tuple[str, ...] = (ENGAGEMENT, HANDRAISES)
"""Every topic engagement events are published on (``engagement_topic`` picks one)."""

HAND_RAISE_TYPES: frozenset[str] = frozenset({"demo_requested", "contact_sales_requested"})
"""The event types a rep must hear about at once (each calls for a reminder due now)."""

TOUCHES = "trellis.touches.v1"
"""``DispatchTouch`` commands for the contact (email, SMS) from the orchestrator's scheduler.
Key: contact id."""

REMINDERS = "trellis.reminders.v1"
"""``DispatchTouch`` commands that remind a rep, from the scheduler. Key: the rep's address. A
lane of its own, consumed by its own notifier loop, so no marketing backlog delays one."""

OUTCOMES = "trellis.outcomes.v1"
"""Delivery outcomes from the notifier and provider callbacks. Key: contact id."""

DLQ_SUFFIX = ".dlq"


def engagement_topic(event_type: str, historical: bool = False) -> str:
    """Where ingest publishes an event: a live hand-raise on ``HANDRAISES``, the rest (and all
    history: it plans nothing, and keeps its order) on ``ENGAGEMENT``."""
    return HANDRAISES if event_type in HAND_RAISE_TYPES and not historical else ENGAGEMENT


def dead_letter(topic: str) -> str:
    """The dead-letter topic that receives ``topic``'s poison messages."""
    return topic + DLQ_SUFFIX


MAIN_TOPICS: tuple[str, ...] = (ENGAGEMENT, HANDRAISES, TOUCHES, REMINDERS, OUTCOMES)
ALL_TOPICS: tuple[str, ...] = MAIN_TOPICS + tuple(dead_letter(t) for t in MAIN_TOPICS)
