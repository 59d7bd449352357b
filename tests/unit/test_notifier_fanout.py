"""The dispatcher's fan-out: every touch once, results in the touches' order, never more than
``concurrency`` provider calls in flight; the SMTP dot-stuffing the pooled path applies; and
the unsubscribe URL written without ``urlencode`` is the URL it wrote."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from schemas.commands import Channel, DispatchTouch
from schemas.outcomes import TouchOutcome
from services.notifier.channels.smtp_pool import dot_stuffed
from services.notifier.dispatch import _each, _from_row
from services.notifier.ledger import LedgerRow
from services.notifier.unsubscribe import UnsubscribeSigner

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def touch(i: int) -> DispatchTouch:
    return DispatchTouch(
        touch_id=f"t{i}", contact_id=f"c{i}", channel=Channel.EMAIL, template_id="generic",
        stage="engaged", to="a@x.example", decided_at=NOW, variables={},
    )  # fmt: skip


async def test_each_item_once_in_order_and_bounded() -> None:
    items = [touch(i) for i in range(50)]
    running, peak, seen = 0, 0, []

    async def work(t: DispatchTouch) -> tuple[DispatchTouch, None, int]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        seen.append(t.touch_id)
        await asyncio.sleep(random.random() / 1000)  # finish out of order
        running -= 1
        return t, None, int(t.touch_id[1:])

    results = await _each(items, work, 7)
    assert [n for _, _, n in results] == list(range(50))
    assert sorted(seen) == sorted(t.touch_id for t in items) and len(seen) == 50
    assert peak == 7
    assert await _each([], work, 7) == []


async def test_fewer_items_than_workers() -> None:
    async def work(t: DispatchTouch) -> tuple[DispatchTouch, None, int]:
        return t, None, 1

    assert [t.touch_id for t, _, _ in await _each([touch(1), touch(2)], work, 16)] == ["t1", "t2"]


def _unstuffed(data: bytes) -> bytes:
    """What a server reads back (RFC 5321 4.5.2: a leading period on a line is removed)."""
    lines = data.split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


@given(st.lists(st.text(alphabet=".ab ", max_size=6), min_size=1, max_size=8))
def test_dot_stuffing_round_trips_and_never_ends_the_message(lines: list[str]) -> None:
    data = "\r\n".join(lines).encode() + b"\r\n"
    stuffed = dot_stuffed(data)
    assert _unstuffed(stuffed) == data
    assert not stuffed.startswith(b".\r\n") and b"\r\n.\r\n" not in stuffed
    if b"." not in data:
        assert stuffed is data


@given(st.text(min_size=1, max_size=40), st.integers(min_value=0, max_value=2**31))
def test_an_unsubscribe_url_is_the_urlencoded_token_and_verifies(contact: str, at: int) -> None:
    signer = UnsubscribeSigner(b"k", "https://t.test/u")
    now = datetime.fromtimestamp(at, UTC)
    url = signer.url(contact, now)
    token = signer.token(contact, now)
    assert url == f"https://t.test/u?{urlencode({'token': token})}"
    assert signer.verify(parse_qs(urlsplit(url).query)["token"][0], now) == contact


@given(
    st.sampled_from(["sent", "failed"]),
    st.booleans(),
    st.one_of(st.none(), st.text(max_size=3000)),
    st.one_of(st.none(), st.text(min_size=1, max_size=200)),
)
def test_an_outcome_built_without_validation_is_a_valid_one(
    status: str, retryable: bool, error: str | None, provider: str | None
) -> None:
    """``_from_row`` skips validation (its inputs were validated): what it builds must be
    exactly what validation would build from the same fields, on the wire too."""
    outcome = _from_row(touch(1), LedgerRow("t1", status, provider, error, retryable), NOW)
    again = TouchOutcome.model_validate_json(outcome.model_dump_json())
    assert again == outcome
    assert again.status.value == status and again.touch_id == "t1"
    assert again.retryable == (status == "failed" and retryable)
