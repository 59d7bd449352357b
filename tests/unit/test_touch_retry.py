"""The durable retry policy for transiently failed touches: backoff, jitter bounds, the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.orchestrator.domain.touch_retry import (
    GiveUp,
    Retry,
    RetryEnd,
    TouchRetryPolicy,
    origin_of,
)

T0 = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
POLICY = TouchRetryPolicy()


@pytest.mark.parametrize(
    ("touch_id", "expected"),
    [
        ("t_abc", ("t_abc", 0)),
        ("t_abc~r1", ("t_abc", 1)),
        ("t_abc~r12", ("t_abc", 12)),
        ("t_a~rx", ("t_a~rx", 0)),  # not a retry number: the id is its own origin
        ("rem_1~r2", ("rem_1", 2)),
    ],
)
def test_origin_and_retry_number_are_read_from_the_id(
    touch_id: str, expected: tuple[str, int]
) -> None:
    assert origin_of(touch_id) == expected


def test_the_first_retry_is_due_between_half_and_one_base_delay() -> None:
    step = POLICY.after_failure("t_abc", T0, T0)
    assert isinstance(step, Retry)
    assert (step.touch_id, step.attempt) == ("t_abc~r1", 1)
    assert T0 + POLICY.base / 2 <= step.due_at <= T0 + POLICY.base


def test_delays_double_up_to_the_ceiling() -> None:
    policy = TouchRetryPolicy(attempts=20, max_age=timedelta(days=30))
    ceilings = []
    for n in range(8):
        step = policy.after_failure(f"t~r{n}" if n else "t", T0, T0)
        assert isinstance(step, Retry)
        ceilings.append(step.due_at - T0)
    for n, delay in enumerate(ceilings):
        top = min(policy.max_delay, policy.base * 2**n)
        assert top / 2 <= delay <= top
    assert ceilings[-1] > policy.max_delay / 2 - timedelta(seconds=1)


def test_after_the_last_attempt_the_touch_fails_for_good() -> None:
    policy = TouchRetryPolicy(attempts=2)
    assert isinstance(policy.after_failure("t~r1", T0, T0), Retry)
    assert policy.after_failure("t~r2", T0, T0) == GiveUp(RetryEnd.RETRIES_EXHAUSTED)
    assert TouchRetryPolicy(attempts=0).after_failure("t", T0, T0) == GiveUp(
        RetryEnd.RETRIES_EXHAUSTED
    )


def test_a_retry_that_would_fall_beyond_the_maximum_age_is_not_planned() -> None:
    policy = TouchRetryPolicy(max_age=timedelta(hours=1))
    assert isinstance(policy.after_failure("t", T0, T0 + timedelta(minutes=10)), Retry)
    late = policy.after_failure("t~r1", T0, T0 + timedelta(minutes=59, seconds=59))
    assert late == GiveUp(RetryEnd.RETRY_EXPIRED)


def test_max_delay_below_base_is_refused() -> None:
    with pytest.raises(ValueError, match="max_delay"):
        TouchRetryPolicy(base=timedelta(minutes=5), max_delay=timedelta(minutes=1))


@given(
    origin=st.from_regex(r"t_[0-9a-f]{8}", fullmatch=True),
    attempt=st.integers(min_value=0, max_value=25),
    age=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=12)),
)
def test_a_retry_is_deterministic_later_than_now_and_inside_every_bound(
    origin: str, attempt: int, age: timedelta
) -> None:
    touch_id = f"{origin}~r{attempt}" if attempt else origin
    now = T0 + age
    step = POLICY.after_failure(touch_id, T0, now)
    assert step == POLICY.after_failure(touch_id, T0, now), "a replayed outcome plans the same"
    if isinstance(step, Retry):
        assert step.attempt == attempt + 1 <= POLICY.attempts
        assert origin_of(step.touch_id) == (origin, attempt + 1)
        assert now < step.due_at <= now + POLICY.max_delay
        assert step.due_at - T0 <= POLICY.max_age
    elif attempt >= POLICY.attempts:
        assert step.reason is RetryEnd.RETRIES_EXHAUSTED
    else:
        assert step.reason is RetryEnd.RETRY_EXPIRED
        assert now + min(POLICY.max_delay, POLICY.base * 2**attempt) - T0 > POLICY.max_age
