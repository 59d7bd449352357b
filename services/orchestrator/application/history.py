"""Imported history (``trellis import``, or a request marked historical): applied to contacts,
accounts, scores and stages like live events, but the past calls for no touch and no reminder.
One ``HISTORICAL`` decision per contact says so, with how many events and their time span."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from schemas.events import EngagementEvent
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.touch_log import TouchDecision


def historical_log(
    events: Sequence[EngagementEvent],
    contact_of: Mapping[str, str],
    account_of: Mapping[str, str | None],
    version: str,
    now: datetime,
) -> list[DecisionRecord]:
    """One ``touch_not_planned``/``HISTORICAL`` record per contact of the batch."""
    by_contact: dict[str, list[EngagementEvent]] = defaultdict(list)
    for e in events:
        by_contact[contact_of[e.id]].append(e)
    out = []
    for cid in sorted(by_contact):
        mine = by_contact[cid]
        times = [e.time for e in mine]
        out.append(
            DecisionRecord(
                contact_id=cid,
                account_id=account_of.get(mine[-1].id),
                kind=TouchDecision.TOUCH_NOT_PLANNED,
                reason=Reason.HISTORICAL,
                facts={
                    "events": len(mine),
                    "first": min(times).isoformat(),
                    "last": max(times).isoformat(),
                },
                event_id=mine[-1].id,
                playbook_version=version,
                decided_at=now,
            )
        )
    return out
