"""Handoff KPIs pinned on a small hand-computed history (every figure worked out in the
comments), the edges of the SLA verdict, time to first value per cohort, and two properties:
attainment stays in [0, 1] and a met handoff never lowers it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.orchestrator.domain.handoff_kpis import (
    NOBODY,
    CohortValue,
    HandoffKpis,
    handoff_kpis,
    handoff_report,
    time_to_value_by_cohort,
    verdict,
)
from services.orchestrator.domain.handoffs import Handoff, HandoffKind
from services.orchestrator.domain.time_to_value import from_history

H = timedelta(hours=1)
D = timedelta(days=1)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
AT = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)  # "now": the report is as of here
SQL, MQL, CSM = HandoffKind.SQL_FIRST_CONTACT, HandoffKind.MQL_ACCEPT, HandoffKind.CSM_KICKOFF


def handoff(
    hid: str, kind: HandoffKind, team: str, owner: str | None, created: datetime,
    due: timedelta, **times: datetime | str | None,
) -> Handoff:  # fmt: skip
    return Handoff(
        id=hid, account_id=f"a_{hid}", contact_id=f"c_{hid}", kind=kind, team=team, owner=owner,
        previous_owner=None, episode="e", created_at=created, deadline_at=created + due,
        escalate_at=created + due + 4 * H, **times,  # type: ignore[arg-type]
    )  # fmt: skip


HISTORY = [
    # sales
    # h1: SQL met: meeting 2 h after the handoff, deadline 4 h -> met; contact 2 h
    handoff("h1", SQL, "sales", "dana", T0, 4 * H, first_contact_at=T0 + 2 * H,
            completed_at=T0 + 2 * H),
    # h2: SQL acknowledged 6 h after (deadline 4 h) -> missed; accept 6 h; contact 6 h (an
    # acknowledged SQL counts as contacted); breached at 4 h
    handoff("h2", SQL, "sales", "dana", T0 + D, 4 * H, accepted_at=T0 + D + 6 * H,
            completed_at=T0 + D + 6 * H, breached_at=T0 + D + 4 * H),
    # h3: SQL never touched: open past its deadline -> missed, never contacted; breached,
    # escalated
    handoff("h3", SQL, "sales", "lee", T0, 4 * H, breached_at=T0 + 4 * H,
            escalated_at=T0 + 8 * H, escalated_to="lee-lead"),
    # h4: MQL accepted by a CRM owner change 3 h after (deadline 1 day) -> met; accept 3 h;
    # no contact step for an MQL
    handoff("h4", MQL, "sales", "lee", T0, D, first_contact_at=T0 + 3 * H,
            completed_at=T0 + 3 * H),
    # h5: SQL made an hour before AT, due 3 h after it -> pending (not in attainment, not
    # "never contacted")
    handoff("h5", SQL, "sales", "dana", AT - H, 4 * H),
    # success
    # h6: kickoff acknowledged after 1 day (deadline 2 days) -> met; accept 24 h
    handoff("h6", CSM, "success", "cara", T0, 2 * D, accepted_at=T0 + D, completed_at=T0 + D),
    # h7: kickoff nobody owns, open past its deadline -> missed; breached, escalated
    handoff("h7", CSM, "success", None, T0, 2 * D, breached_at=T0 + 2 * D,
            escalated_at=T0 + 2 * D + 4 * H),
    # h8: completed a day AFTER AT: as of AT still open past its deadline -> missed; breached
    handoff("h8", CSM, "success", "cara", T0, 2 * D, breached_at=T0 + 2 * D,
            accepted_at=AT + D, completed_at=AT + D),
    # h9: made after AT: does not exist yet
    handoff("h9", SQL, "sales", "dana", AT + H, 4 * H),
]  # fmt: skip


def test_per_team_by_hand() -> None:
    report = handoff_report(HISTORY, AT)
    # sales = h1..h5: met h1, h4 (2); missed h2, h3 (2); pending h5 -> 2 / 4 = 0.5
    # accept: h2 6 h, h4 3 h -> median 4.5; contact: h1 2 h, h2 6 h -> median 4.0
    # never contacted: h3; breaches: h2, h3; escalations: h3
    assert report.by_team["sales"] == HandoffKpis(
        handoffs=5, met=2, missed=2, pending=1, attainment=0.5, median_hours_to_accept=4.5,
        median_hours_to_first_contact=4.0, never_contacted=1, breaches=2, escalations=1,
    )  # fmt: skip
    # success = h6, h7, h8: met h6; missed h7, h8 -> 1 / 3 = 0.3333; accept: h6 24 h (h8's
    # acceptance is after AT); no contact; breaches h7, h8; escalations h7
    assert report.by_team["success"] == HandoffKpis(
        handoffs=3, met=1, missed=2, pending=0, attainment=0.3333, median_hours_to_accept=24.0,
        median_hours_to_first_contact=None, never_contacted=0, breaches=2, escalations=1,
    )  # fmt: skip


def test_overall_by_hand() -> None:
    # h1..h8 (h9 not yet): met 3, missed 4, pending 1 -> 3 / 7 = 0.4286; accept 6, 3, 24 h ->
    # median 6.0; contact 2, 6 h -> 4.0; never 1; breaches h2 h3 h7 h8 = 4; escalations h3 h7
    assert handoff_report(HISTORY, AT).overall == HandoffKpis(
        handoffs=8, met=3, missed=4, pending=1, attainment=0.4286, median_hours_to_accept=6.0,
        median_hours_to_first_contact=4.0, never_contacted=1, breaches=4, escalations=2,
    )  # fmt: skip


def test_per_owner_by_hand() -> None:
    by = handoff_report(HISTORY, AT).by_owner
    assert list(by) == [("sales", "dana"), ("sales", "lee"), ("success", NOBODY),
                        ("success", "cara")]  # fmt: skip
    # dana: h1 met, h2 missed, h5 pending -> 0.5; accept h2 6 h; contact 2, 6 h -> 4.0
    dana = by[("sales", "dana")]
    assert (dana.met, dana.missed, dana.pending, dana.attainment) == (1, 1, 1, 0.5)
    assert (dana.median_hours_to_accept, dana.median_hours_to_first_contact) == (6.0, 4.0)
    assert (dana.never_contacted, dana.breaches, dana.escalations) == (0, 1, 0)
    # lee: h3 missed (never contacted, escalated), h4 met (accept 3 h) -> 0.5
    lee = by[("sales", "lee")]
    assert (lee.attainment, lee.median_hours_to_accept, lee.median_hours_to_first_contact) == (
        0.5, 3.0, None,
    )  # fmt: skip
    assert (lee.never_contacted, lee.breaches, lee.escalations) == (1, 1, 1)
    # cara: h6 met, h8 missed -> 0.5; nobody: h7 missed -> 0.0, escalated
    assert by[("success", "cara")].attainment == 0.5
    nobody = by[("success", NOBODY)]
    assert (nobody.attainment, nobody.escalations) == (0.0, 1)


def test_the_verdict_at_its_edges() -> None:
    h = handoff("x", SQL, "sales", "dana", T0, 4 * H)
    due = T0 + 4 * H
    assert verdict(h, due - timedelta(seconds=1)) is None  # open, not yet due: pending
    assert verdict(h, due) is False  # open at the deadline: the clock breaches it -> missed
    assert verdict(replace(h, completed_at=due), due) is True  # done at the deadline: met
    late = replace(h, completed_at=due + timedelta(seconds=1))
    assert verdict(late, due + H) is False
    assert verdict(late, due - H) is None  # as of before it was done: still pending
    assert handoff_kpis([], AT).attainment is None  # nothing decided: no figure


def test_time_to_value_per_cohort_by_hand() -> None:
    values = from_history([
        ("acme", "deal_closed_won", datetime(2026, 3, 2, tzinfo=UTC)),
        ("acme", "product_activated", datetime(2026, 3, 5, 12, tzinfo=UTC)),  # 3.5 days
        ("acme", "usage_milestone", datetime(2026, 3, 12, tzinfo=UTC)),  # 10 days
        ("globex", "product_activated", datetime(2026, 2, 20, tzinfo=UTC)),  # trial: day 0
        ("globex", "deal_closed_won", datetime(2026, 3, 10, tzinfo=UTC)),
        ("globex", "usage_milestone", datetime(2026, 3, 17, tzinfo=UTC)),  # 7 days
        ("initech", "deal_closed_won", datetime(2026, 3, 30, tzinfo=UTC)),  # never activated
        ("umbrella", "deal_closed_won", datetime(2026, 4, 1, tzinfo=UTC)),
        ("umbrella", "product_activated", datetime(2026, 4, 11, tzinfo=UTC)),  # 10 days
        ("umbrella", "usage_milestone", datetime(2026, 4, 30, tzinfo=UTC)),  # 29 days
    ]).values()  # fmt: skip
    # March: 3 customers, 2 activated; activation median(3.5, 0) = 1.75; milestone
    # median(10, 7) = 8.5. April: 1 customer, 10 and 29 days.
    assert time_to_value_by_cohort(values) == {
        "2026-03": CohortValue(3, 2, 1.75, 8.5),
        "2026-04": CohortValue(1, 1, 10.0, 29.0),
    }


def test_a_superseded_handoff_has_a_verdict_but_no_accept_or_contact_time() -> None:
    # the account moved on (an SQL handed over 1 h after an MQL, 1 day due): the MQL completed
    # at 1 h with neither acceptance nor contact -> met, no time to accept; an SQL superseded
    # at 5 h (due 4 h) -> missed, not contacted, and not "never contacted" (it became a deal)
    mql = handoff("m", MQL, "sales", "dana", T0, D, completed_at=T0 + H)
    sql = handoff("s", SQL, "sales", "dana", T0, 4 * H, completed_at=T0 + 5 * H)
    k = handoff_kpis([mql, sql], AT)
    assert (k.met, k.missed, k.attainment) == (1, 1, 0.5)
    assert (k.median_hours_to_accept, k.median_hours_to_first_contact) == (None, None)
    assert k.never_contacted == 0


minutes = st.integers(min_value=0, max_value=7 * 24 * 60)


@st.composite
def handoffs(draw: st.DrawFn) -> Handoff:
    created = T0 + timedelta(minutes=draw(minutes))
    due = timedelta(minutes=draw(st.integers(min_value=1, max_value=3 * 24 * 60)))
    done = draw(st.none() | minutes)
    kind = draw(st.sampled_from(list(HandoffKind)))
    at = None if done is None else created + timedelta(minutes=done)
    return handoff(f"p{draw(minutes)}", kind, "sales", "dana", created, due, completed_at=at)


@given(st.lists(handoffs(), max_size=20), minutes)
def test_attainment_is_a_share_and_every_handoff_is_counted_once(
    hs: list[Handoff], offset: int
) -> None:
    at = T0 + timedelta(minutes=offset)
    k = handoff_kpis(hs, at)
    assert k.attainment is None or 0.0 <= k.attainment <= 1.0
    assert k.met + k.missed + k.pending == k.handoffs == len(hs)


@given(st.lists(handoffs(), max_size=20), minutes, minutes)
def test_a_met_handoff_never_lowers_attainment(hs: list[Handoff], offset: int, start: int) -> None:
    at = T0 + timedelta(days=12, minutes=offset)
    created = T0 + timedelta(minutes=start)
    met = handoff("met", SQL, "sales", "dana", created, 4 * H, completed_at=created + H)
    before, after = handoff_kpis(hs, at).attainment, handoff_kpis([*hs, met], at).attainment
    assert after is not None and after >= (before or 0.0)


def test_a_handoff_made_at_the_reports_instant_counts_and_hours_keep_two_decimals() -> None:
    # made exactly at AT: it exists; due at AT: open at its deadline -> missed, never contacted
    made_now = handoff("n", SQL, "sales", "dana", AT, timedelta(0))
    report = handoff_report([made_now], AT)
    assert report.overall.handoffs == 1 and report.overall.missed == 1
    assert report.overall.never_contacted == 1
    # accepted 20 minutes after: 1/3 h -> 0.33 (two decimals)
    quick = handoff("q", MQL, "sales", "dana", T0, D, accepted_at=T0 + timedelta(minutes=20))
    assert handoff_kpis([quick], AT).median_hours_to_accept == 0.33
