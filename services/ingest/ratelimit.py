"""Per-source request rate limit: a token bucket per source, refilled at ``rate_limit_per_s``
with a burst of one second's worth. Over the limit -> 429 with ``Retry-After``.

Per process: with N ingest instances a source gets up to N times its limit (a shared budget in
Redis/PostgreSQL is the next step if that matters).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request, status

from trellis.sources import Source


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBucketLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def wait_needed(self, source_id: str, rate_per_s: int) -> float:
        """0 if a request may pass now (and take a token), else seconds until one may."""
        now = self._clock()
        bucket = self._buckets.setdefault(source_id, _Bucket(float(rate_per_s), now))
        bucket.tokens = min(float(rate_per_s), bucket.tokens + (now - bucket.at) * rate_per_s)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate_per_s


def enforce_rate_limit(request: Request, source: Source) -> None:
    if not source.rate_limit_per_s:
        return
    limiter: TokenBucketLimiter = request.app.state.limiter
    wait = limiter.wait_needed(source.id, source.rate_limit_per_s)
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"over {source.rate_limit_per_s} requests/s for this source",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
