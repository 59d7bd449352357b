"""Holdouts: membership is a pure function of the unit and the sequence (stable under replay,
batching and order), its share converges to the configured rate, and a held-out contact's
marketing steps are not planned (``HOLDOUT``) while the rep still hears of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import ConsentEntry, ConsentLedger, ConsentStatus
from services.orchestrator.domain.eligibility import Recipient, SkipReason
from services.orchestrator.domain.holdout import bucket, held_out
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.planner import plan_contact
from services.orchestrator.domain.stages import Stage

MONDAY = datetime(2026, 5, 4, 10, tzinfo=UTC)
BASE = default_nurture()


def plan_with(**holdouts: object) -> NurtureConfig:
    """The shipped plan with ``holdout``/``holdout_by`` and per-sequence ``seq__<id>`` shares."""
    data = BASE.model_dump(mode="json")
    for key, value in holdouts.items():
        if key.startswith("seq__"):
            seq = next(q for q in data["sequences"] if q["id"] == key[5:])
            seq["holdout"] = value
        else:
            data[key] = value
    return NurtureConfig.model_validate(data)


def opted_in(contact: str) -> ConsentLedger:
    day = MONDAY - timedelta(days=1)
    entries = [ConsentEntry(contact, Channel.EMAIL, ConsentStatus.GRANTED, "form", "ev", day)]
    return ConsentLedger(entries, [], bases=BASE.legal_basis)


def mql(contact: str, account: str | None = "acme") -> Recipient:
    return Recipient(contact, account, Stage.MQL, ZoneInfo("UTC"), role="manager")


@settings(max_examples=25, deadline=None)
@given(
    ids=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=40, unique=True),
    sequence=st.text(min_size=1, max_size=20),
    share=st.floats(min_value=0, max_value=0.5),
    cut=st.integers(min_value=0, max_value=40),
)
def test_membership_is_the_same_in_any_batching_order_or_replay(
    ids: list[str], sequence: str, share: float, cut: int
) -> None:
    at_once = {i: held_out(share, i, sequence) for i in ids}
    batched = {i: held_out(share, i, sequence) for part in (ids[cut:], ids[:cut]) for i in part}
    replayed = {i: held_out(share, i, sequence) for i in reversed(ids)}
    assert at_once == batched == replayed
    assert all(0 <= bucket(i, sequence) < 1 for i in ids)


@settings(max_examples=12, deadline=None)
@given(share=st.floats(min_value=0.01, max_value=0.5), sequence=st.text(min_size=1, max_size=20))
def test_the_held_out_share_converges_to_the_configured_rate(share: float, sequence: str) -> None:
    n = 20_000  # binomial sd at most 0.0036: 0.02 is more than five of them
    held = sum(held_out(share, f"contact-{i}", sequence) for i in range(n))
    assert abs(held / n - share) < 0.02


def test_membership_differs_between_sequences_so_one_control_group_is_not_every_sequences() -> None:
    ids = [f"c{i}" for i in range(2000)]
    a = {i for i in ids if held_out(0.1, i, "mql-proof")}
    b = {i for i in ids if held_out(0.1, i, "engaged-business")}
    assert a and b and a != b


def test_a_held_out_contact_gets_holdout_for_marketing_steps_and_the_rep_still_hears() -> None:
    config = plan_with(**{"seq__mql-proof": "50%"})
    held = next(c for c in (f"c{i}" for i in range(100)) if held_out(0.5, c, "mql-proof"))
    plan = plan_contact(config, mql(held), opted_in(held), [], MONDAY)
    assert [(n.step_id, n.reason) for n in plan.not_planned] == [
        ("case-study", SkipReason.HOLDOUT), ("comparison", SkipReason.HOLDOUT)
    ]  # fmt: skip
    assert plan.not_planned[0].facts == {"stage": "mql", "holdout": "50%", "by": "contact"}
    assert [p.step_id for p in plan.create] == ["rep-intro"]
    again = plan_contact(config, mql(held), opted_in(held), [], MONDAY + timedelta(days=9))
    assert again.not_planned == plan.not_planned  # replanned later: still held out


def test_a_treated_contact_gets_the_whole_sequence() -> None:
    config = plan_with(**{"seq__mql-proof": "50%"})
    treated = next(c for c in (f"c{i}" for i in range(100)) if not held_out(0.5, c, "mql-proof"))
    plan = plan_contact(config, mql(treated), opted_in(treated), [], MONDAY)
    assert [p.step_id for p in plan.create] == ["case-study", "rep-intro", "comparison"]
    assert plan.not_planned == ()


def test_holding_out_by_account_keeps_an_accounts_contacts_together() -> None:
    config = plan_with(holdout="50%", holdout_by="account")
    account = next(a for a in (f"a{i}" for i in range(100)) if held_out(0.5, a, "mql-proof"))
    for contact in ("x1", "x2", "x3", "x4"):
        plan = plan_contact(config, mql(contact, account), opted_in(contact), [], MONDAY)
        assert {n.reason for n in plan.not_planned} == {SkipReason.HOLDOUT}
        assert plan.not_planned[0].facts["by"] == "account"


def test_a_sequence_without_holdout_holds_nobody_out_even_when_the_plan_does() -> None:
    config = plan_with(holdout="50%", **{"seq__mql-proof": 0})
    plans = [plan_contact(config, mql(f"c{i}"), opted_in(f"c{i}"), [], MONDAY) for i in range(40)]
    assert all(p.not_planned == () for p in plans)


@pytest.mark.parametrize(("given_", "share"), [("10%", 0.1), (0.25, 0.25), ("0%", 0.0)])
def test_holdout_reads_a_percentage_or_a_fraction(given_: object, share: float) -> None:
    assert plan_with(holdout=given_).holdout == pytest.approx(share)


@pytest.mark.parametrize("bad", ["60%", "ten%", -0.1, "abc"])
def test_a_holdout_beyond_half_or_not_a_share_is_refused(bad: object) -> None:
    with pytest.raises(ValidationError):
        plan_with(holdout=bad)


def test_only_what_would_go_out_is_held_out_so_both_arms_are_alike() -> None:
    """A held-out contact who never opted in is NO_CONSENT, as it would be if treated: the
    held-out arm holds only people the sequence would have reached."""
    config = plan_with(**{"seq__mql-proof": "50%"})
    held = next(c for c in (f"c{i}" for i in range(100)) if held_out(0.5, c, "mql-proof"))
    silent = ConsentLedger([], [], bases=BASE.legal_basis)
    plan = plan_contact(config, mql(held), silent, [], MONDAY)
    assert {n.reason for n in plan.not_planned} == {SkipReason.NO_CONSENT}
