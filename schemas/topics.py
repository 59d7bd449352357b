"""Topic names and the dead-letter naming rule."""

from __future__ import annotations

ENGAGEMENT = "trellis.engagement.v1"
"""Engagement events from ingest. Key: account id, else contact id."""

TOUCHES = "trellis.touches.v1"
"""``DispatchTouch`` commands for the contact (email, SMS) from the orchestrator's scheduler.
Key: contact id."""

REMINDERS = "trellis.reminders.v1"
"""``DispatchTouch`` commands that remind a rep, from the scheduler. Key: the rep's address. A
lane of its own, consumed by its own notifier loop, so no marketing backlog delays one."""

OUTCOMES = "trellis.outcomes.v1"
"""Delivery outcomes from the notifier and provider callbacks. Key: contact id."""

DLQ_SUFFIX = ".dlq"


def dead_letter(topic: str) -> str:
    """The dead-letter topic that receives ``topic``'s poison messages."""
    return topic + DLQ_SUFFIX


MAIN_TOPICS: tuple[str, ...] = (ENGAGEMENT, TOUCHES, REMINDERS, OUTCOMES)
ALL_TOPICS: tuple[str, ...] = MAIN_TOPICS + tuple(dead_letter(t) for t in MAIN_TOPICS)
