"""Frequency caps over a history of sent touches (pure).

A touch counts against a rolling window ``(now - window, now]``. Only contact-facing touches count
(rep reminders do not); touches after ``now`` are ignored. Each violation carries the earliest
instant at which the same touch would no longer break that rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.orchestrator.domain.channels import TouchChannel


class CapKind(StrEnum):
    MIN_GAP = "min_gap"
    FREQUENCY_CAP = "frequency_cap"
    ACCOUNT_CAP = "account_cap"


@dataclass(frozen=True, slots=True)
class SentTouch:
    contact_id: str
    account_id: str | None
    channel: TouchChannel
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class CapViolation:
    kind: CapKind
    retry_at: datetime


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelCap(_Model):
    max_touches: int = Field(ge=1)
    window: timedelta = Field(gt=timedelta(0))


class Caps(_Model):
    per_channel: dict[TouchChannel, ChannelCap] = Field(default_factory=dict)
    min_gap: timedelta = Field(default=timedelta(0), ge=timedelta(0))
    account_per_day: int | None = Field(default=None, ge=1)

    def violation(
        self,
        contact_id: str,
        account_id: str | None,
        channel: TouchChannel,
        history: Iterable[SentTouch],
        now: datetime,
    ) -> CapViolation | None:
        """The first rule a touch sent at ``now`` would break: min gap, channel, then account."""
        if channel.is_reminder:
            return None
        past = [t for t in history if t.sent_at <= now and not t.channel.is_reminder]
        mine = [t.sent_at for t in past if t.contact_id == contact_id]
        if self.min_gap and mine and (last := max(mine)) > now - self.min_gap:
            return CapViolation(CapKind.MIN_GAP, last + self.min_gap)
        cap = self.per_channel.get(channel)
        if cap is not None:
            same = [t.sent_at for t in past if t.contact_id == contact_id and t.channel is channel]
            if (retry := _window_full(same, cap.max_touches, cap.window, now)) is not None:
                return CapViolation(CapKind.FREQUENCY_CAP, retry)
        if self.account_per_day is not None and account_id is not None:
            acct = [t.sent_at for t in past if t.account_id == account_id]
            day = timedelta(days=1)
            if (retry := _window_full(acct, self.account_per_day, day, now)) is not None:
                return CapViolation(CapKind.ACCOUNT_CAP, retry)
        return None


def _window_full(
    times: Sequence[datetime], limit: int, window: timedelta, now: datetime
) -> datetime | None:
    """When ``limit`` or more fall inside ``(now - window, now]``: the instant one more fits."""
    inside = sorted(t for t in times if t > now - window)
    if len(inside) < limit:
        return None
    return inside[len(inside) - limit] + window
