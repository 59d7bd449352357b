"""What ``trellis simulate`` reports about touches, read off the in-memory unit of work the live
handlers ran on: counts to compare two plans, and one row per touch decision (what, to whom,
when, and every "no" with its reason) for ``--per touch|contact``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from services.orchestrator.adapters.memory_uow import MemoryUnitOfWork
from services.orchestrator.application.unit_of_work import DISPATCHED, PLANNED, SKIPPED
from services.orchestrator.domain.handoffs import Handoff
from services.orchestrator.domain.touch_log import TouchDecision


@dataclass
class TouchTally:
    """Counts a team compares between two plans."""

    planned: Counter[str] = field(default_factory=Counter)  # every touch stored, by channel
    not_planned: Counter[str] = field(default_factory=Counter)  # by reason code
    sent: Counter[str] = field(default_factory=Counter)  # by "stage/channel"
    skipped: Counter[str] = field(default_factory=Counter)  # by reason code
    deferred: Counter[str] = field(default_factory=Counter)  # by reason code
    reminders: Counter[str] = field(default_factory=Counter)  # by rule
    handoffs: Counter[str] = field(default_factory=Counter)  # "<kind>/<what>": made, breached..
    pending: int = 0  # still due after the end of the history
    rows: list[dict[str, Any]] = field(default_factory=list)  # every decision, per touch

    def as_dict(self) -> dict[str, Any]:
        counters = (
            "planned",
            "not_planned",
            "sent",
            "skipped",
            "deferred",
            "reminders",
            "handoffs",
        )
        return {n: dict(sorted(getattr(self, n).items())) for n in counters} | {
            "pending": self.pending
        }


def handoff_tally(handoffs: Iterable[Handoff]) -> Counter[str]:
    """Per kind: handoffs made, taken (acknowledged or a completing event), breached (the
    owner reminded), escalated (the lead told), and still open at the end."""
    out: Counter[str] = Counter()
    for h in handoffs:
        k = h.kind.value
        out[f"{k}/made"] += 1
        out[f"{k}/taken"] += h.accepted_at is not None or h.first_contact_at is not None
        out[f"{k}/breached"] += h.breached_at is not None
        out[f"{k}/escalated"] += h.escalated_at is not None
        out[f"{k}/open"] += h.open
    return out


def tally(uow: MemoryUnitOfWork) -> TouchTally:
    out = TouchTally(handoffs=handoff_tally(uow.handoffs.stored.values()))
    skipped_at = {}
    for r in uow.decisions.records:
        facts = r.facts
        if r.kind == TouchDecision.TOUCH_NOT_PLANNED:
            out.not_planned[str(r.reason)] += 1
            out.rows.append(_row(r.contact_id, None, facts.get("sequence"), facts.get("step"),
                                 facts.get("channel"), facts.get("template"), "not_planned",
                                 str(r.reason), r.decided_at.isoformat()))  # fmt: skip
        elif r.kind == TouchDecision.TOUCH_DEFERRED:
            out.deferred[str(r.reason)] += 1
            touch = uow.touches.rows[str(r.touch_id)].touch
            sequence, _, step = (touch.sequence_step or "").partition("/")
            out.rows.append(_row(touch.contact_id, touch.id, sequence, step, touch.channel,
                                 touch.template_id, "deferred", str(r.reason),
                                 r.decided_at.isoformat()))  # fmt: skip
        elif r.kind == TouchDecision.REMINDER_CREATED:
            out.reminders[str(facts.get("reason") or facts.get("reminder_reason"))] += 1
        elif r.kind == TouchDecision.TOUCH_SKIPPED and r.touch_id:
            skipped_at[r.touch_id] = r.decided_at
            if r.touch_id not in uow.touches.rows:  # a reminder nobody could take (no rep)
                out.not_planned[str(r.reason)] += 1
                out.rows.append(_row(r.contact_id, None, "reminder", facts.get("reason"),
                                     facts.get("channel"), facts.get("template"), "not_planned",
                                     str(r.reason), r.decided_at.isoformat()))  # fmt: skip
    for row in uow.touches.rows.values():
        t = row.touch
        out.planned[t.channel] += 1
        sequence, _, step = (t.sequence_step or "").partition("/")
        if row.status == DISPATCHED:
            out.sent[f"{t.stage}/{t.channel}"] += 1
            status, at = "sent", t.dispatched_at or t.due_at
        elif row.status == SKIPPED:
            out.skipped[str(row.reason)] += 1
            status, at = "skipped", skipped_at.get(t.id, t.due_at)
        else:
            out.pending += row.status == PLANNED
            status, at = "planned", t.due_at
        out.rows.append(_row(t.contact_id, t.id, sequence, step, t.channel, t.template_id,
                             status, row.reason if status == "skipped" else None,
                             at.isoformat()))  # fmt: skip
    return out


def _row(
    contact: str | None, touch_id: str | None, sequence: object, step: object, channel: object,
    template: object, status: str, reason: str | None, at: str,
) -> dict[str, Any]:  # fmt: skip
    return {
        "contact": contact, "touch_id": touch_id, "sequence": sequence, "step": step,
        "channel": channel, "template": template, "status": status, "reason": reason, "at": at,
    }  # fmt: skip
