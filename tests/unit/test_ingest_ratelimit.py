"""The per-source token bucket."""

from __future__ import annotations

from services.ingest.ratelimit import TokenBucketLimiter


def test_bucket_allows_a_burst_of_one_second_then_refills_at_the_rate() -> None:
    now = [100.0]
    limiter = TokenBucketLimiter(clock=lambda: now[0])
    assert [limiter.wait_needed("s", 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait_needed("s", 3) > 0
    assert limiter.wait_needed("other", 3) == 0.0
    now[0] += 0.5  # refills 1.5 tokens
    assert limiter.wait_needed("s", 3) == 0.0
    assert limiter.wait_needed("s", 3) > 0
