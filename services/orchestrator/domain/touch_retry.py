"""Durable retries of touches whose send failed transiently.

The notifier retries a transient provider failure a few times within seconds; when that is not
enough it reports ``failed(retryable)`` and forgets the touch (its send ledger is final per touch
id, which is what makes a send at most once). The orchestrator then plans a *new* touch,
``<origin>~r<n>``, due after an exponential backoff: it is decided again when due (consent,
caps, quiet hours, stage still current), has its own send-ledger key, and stops after
``attempts`` retries or once ``max_age`` has passed since the first dispatch, whichever is
first. The jitter is derived from the retry's id, so a replayed outcome plans the very same row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.orchestrator.domain.reasons import Reason

RETRY_MARK = "~r"


RetryEnd = Reason  # RETRIES_EXHAUSTED, RETRY_EXPIRED


@dataclass(frozen=True, slots=True)
class Retry:
    touch_id: str
    attempt: int
    due_at: datetime


@dataclass(frozen=True, slots=True)
class GiveUp:
    reason: RetryEnd


def origin_of(touch_id: str) -> tuple[str, int]:
    """The first touch of a retry chain and this touch's retry number (0: the first touch)."""
    origin, mark, number = touch_id.rpartition(RETRY_MARK)
    if mark and number.isdigit():
        return origin, int(number)
    return touch_id, 0


class TouchRetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(default=5, ge=0, le=20, description="retries after the first send")
    base: timedelta = Field(default=timedelta(minutes=1), gt=timedelta(0))
    max_delay: timedelta = Field(default=timedelta(hours=1), gt=timedelta(0))
    max_age: timedelta = Field(
        default=timedelta(hours=6),
        gt=timedelta(0),
        description="after this long since the first dispatch the touch fails for good",
    )

    @model_validator(mode="after")
    def _ordered(self) -> TouchRetryPolicy:
        if self.max_delay < self.base:
            raise ValueError("max_delay must be at least base")
        return self

    def after_failure(
        self, touch_id: str, first_sent_at: datetime, now: datetime
    ) -> Retry | GiveUp:
        """What follows a transient failure of ``touch_id`` reported at ``now``."""
        origin, attempt = origin_of(touch_id)
        if attempt >= self.attempts:
            return GiveUp(RetryEnd.RETRIES_EXHAUSTED)
        nxt = f"{origin}{RETRY_MARK}{attempt + 1}"
        ceiling = min(self.max_delay, self.base * 2**attempt)
        due_at = now + ceiling * (0.5 + 0.5 * _unit(nxt))  # "equal jitter": never sooner than half
        if due_at - first_sent_at > self.max_age:
            return GiveUp(RetryEnd.RETRY_EXPIRED)
        return Retry(nxt, attempt + 1, due_at)


def _unit(key: str) -> float:
    """A stable number in [0, 1) from ``key``."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
