"""Retries for transient provider failures: exponential backoff with full jitter, a cap on
attempts and a maximum touch age. Only ``Failed(retryable=True)`` is retried — adapters return it
only when the provider certainly did not accept the message — so a retry never duplicates.
These are the quick, in-process retries; a touch still failing after them is reported
``failed(retryable)`` and the orchestrator plans a new touch later (``domain/touch_retry.py``)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.notifier.channels.base import Failed, SendResult

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_s: float = 0.5
    max_s: float = 30.0
    max_age: timedelta = timedelta(hours=6)
    """A touch decided longer ago than this fails permanently (``expired``) instead of sending."""

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^(attempt-1))]."""
        return random.uniform(0, min(self.max_s, self.base_s * 2 ** (attempt - 1)))


async def send_with_retries(
    send: Callable[[], Awaitable[SendResult]],
    policy: RetryPolicy,
    decided_at: datetime,
    clock: Callable[[], datetime],
    sleep: Sleep = asyncio.sleep,
) -> tuple[SendResult, int]:
    """The final result and the number of provider calls made (0 when expired before any)."""
    attempt = 0
    while True:
        if clock() - decided_at > policy.max_age:
            return Failed(retryable=False, detail=f"expired: older than {policy.max_age}"), attempt
        attempt += 1
        result = await send()
        if not (isinstance(result, Failed) and result.retryable) or attempt >= policy.attempts:
            return result, attempt
        await sleep(policy.backoff(attempt))
