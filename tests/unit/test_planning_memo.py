"""The planning pass's memos answer as the functions they stand for: ``Openings`` as
``SendWindow.next_open``, ``plan_contact`` with a ``PlanMemo`` shared by many contacts as
without one, and ``exit_sequences`` / ``replan`` sharing one read of the stored touches as
each reading its own."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.orchestrator.adapters.memory_uow import MemoryUnitOfWork
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.application import planning
from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import (
    Actor,
    ConsentEntry,
    ConsentLedger,
    ConsentStatus,
    LedgerRow,
    Suppression,
    SuppressionKind,
)
from services.orchestrator.domain.eligibility import Recipient
from services.orchestrator.domain.planner import ExistingTouch, PlanMemo, plan_contact
from services.orchestrator.domain.quiet_hours import Openings, SendWindow
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.stages import Stage
from tests.unit.test_nurture_properties import windows

CONFIG = default_nurture().model_copy(update={"holdout": 0.2})
ZONES = [
    ZoneInfo(z)
    for z in (
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "Asia/Kolkata",
        "UTC",
    )
]
START = datetime(2026, 3, 1, tzinfo=UTC)
# near the days the clocks change, to the second: gaps, folds, openings inside them
minutes = st.integers(0, 300 * 24 * 60).map(lambda m: timedelta(minutes=m, seconds=m % 7))
zones = st.sampled_from(ZONES)


@st.composite
def written(draw: st.DrawFn, at: datetime) -> datetime:
    """The instant ``at`` written in UTC, in a zone (either fold), or at a fixed offset."""
    how = draw(st.sampled_from(["utc", "zone", "offset"]))
    if how == "zone":
        return at.astimezone(draw(zones))
    if how == "offset":
        return at.astimezone(timezone(timedelta(hours=draw(st.integers(-12, 13)))))
    return at


@settings(max_examples=300, deadline=None)
@given(
    shown=st.lists(windows(), min_size=1, max_size=3),
    asks=st.lists(st.tuples(st.integers(0, 2), minutes, zones), min_size=1, max_size=12),
    data=st.data(),
)
def test_memoised_openings_are_the_windows_own_answers_however_now_is_written(
    shown: list[SendWindow], asks: list[tuple[int, timedelta, ZoneInfo]], data: st.DataObject
) -> None:
    memo = Openings()
    for _ in range(2):  # the second round is answered from the memo
        for i, offset, tz in asks:
            window = shown[i % len(shown)]
            now = data.draw(written(START + offset))
            expected = window.next_open(now, tz)
            got = memo.next_open(window, now, tz)
            assert got == expected and got.tzinfo is expected.tzinfo
            assert got.isoformat() == expected.isoformat()
            assert (got is now) == (expected is now)  # an open window answers with ``now``


def grant(contact: str, channel: Channel, at: datetime) -> ConsentEntry:
    return ConsentEntry(contact, channel, ConsentStatus.GRANTED, "form", "method=form", at)


STEPS = [(q.id, s.id, s.channel) for q in CONFIG.sequences for s in q.steps]
STATUSES = [
    ("planned", None),
    ("skipped", "STAGE_EXITED"),
    ("skipped", "NO_CONSENT"),
    ("skipped", "SEQUENCE_EXITED"),
    ("dispatched", None),
]


@st.composite
def recipients(draw: st.DrawFn, n: int) -> tuple[Recipient, ConsentLedger, list[ExistingTouch]]:
    cid = f"c{n}"
    who = Recipient(
        contact_id=cid,
        account_id=draw(st.sampled_from([None, "a1", "a2", f"a{n}"])),
        stage=draw(st.sampled_from(list(Stage))),
        timezone=draw(zones),
        role=draw(st.sampled_from([None, "technical", "finance", "user", "executive"])),
        nps=draw(st.one_of(st.none(), st.integers(0, 10))),
        rep_timezone=draw(st.one_of(st.none(), zones)),
    )
    now = START
    entries = [
        grant(cid, c, now - timedelta(days=1))
        for c in draw(st.sets(st.sampled_from([Channel.EMAIL, Channel.SMS])))
    ]
    stops = [Suppression(cid, SuppressionKind.STOP, "twilio", "", now, Channel.SMS)] * draw(
        st.integers(0, 1)
    )
    ledger = ConsentLedger(entries, stops, bases=CONFIG.legal_basis)
    existing = [
        ExistingTouch(
            f"{cid}-{i}",
            seq,
            step,
            draw(st.sampled_from(list(Stage))),
            channel,
            *draw(st.sampled_from(STATUSES)),
        )
        for i, (seq, step, channel) in enumerate(draw(st.lists(st.sampled_from(STEPS))))
    ]
    return who, ledger, existing


@settings(max_examples=150, deadline=None)
@given(
    people=st.integers(1, 12).flatmap(lambda n: st.tuples(*(recipients(i) for i in range(n)))),
    offset=minutes,
)
def test_a_plan_memo_shared_by_a_batch_changes_no_contacts_plan(
    people: tuple[tuple[Recipient, ConsentLedger, list[ExistingTouch]], ...], offset: timedelta
) -> None:
    now = START + offset
    memo = PlanMemo(CONFIG)
    for _ in range(2):
        for who, ledger, existing in people:
            alone = plan_contact(CONFIG, who, ledger, existing, now)
            assert plan_contact(CONFIG, who, ledger, existing, now, memo) == alone
    other = default_nurture()  # a memo of another plan is not used for this one
    who, ledger, existing = people[0]
    assert plan_contact(other, who, ledger, existing, now, memo) == plan_contact(
        other, who, ledger, existing, now
    )


NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
CTX = planning.Context(default_nurture(), NOW)


async def _world(stages: dict[str, Stage]) -> tuple[MemoryUnitOfWork, dict[str, Recipient]]:
    uow = MemoryUnitOfWork()
    rows = [LedgerRow(grant(c, Channel.EMAIL, NOW - timedelta(days=1)), f"g-{c}") for c in stages]
    await uow.consent.record(rows)
    people = {
        c: Recipient(c, "a1", s, ZoneInfo("Europe/Berlin"), role="technical")
        for c, s in stages.items()
    }
    await planning.replan(uow, CTX, people, {}, set(), [])
    return uow, people


@settings(max_examples=60, deadline=None)
@given(
    before=st.dictionaries(
        st.sampled_from(["c1", "c2", "c3"]),
        st.sampled_from([Stage.AWARENESS, Stage.ENGAGED, Stage.MQL]),
        min_size=1,
    ),
    after=st.sampled_from([Stage.ENGAGED, Stage.MQL, Stage.SQL]),
    kinds=st.lists(
        st.sampled_from(["demo_requested", "page_viewed", "contact_sales_requested"]),
        min_size=1,
        max_size=4,
    ),
)
async def test_exits_and_replan_sharing_one_read_of_the_touches_decide_as_reading_their_own(
    before: dict[str, Stage], after: Stage, kinds: list[str]
) -> None:
    done: list[tuple[list[DecisionRecord], dict[str, object]]] = []
    for shared in (False, True):
        uow, people = await _world(before)
        exits = [
            (k, c, f"e{i}") for i, (k, c) in enumerate(zip(kinds, sorted(before) * 4, strict=False))
        ]
        moved = {
            c: Recipient(c, "a1", after, w.timezone, role="technical") for c, w in people.items()
        }
        log: planning.Log = []
        if shared:
            existing = await uow.touches.existing({*moved, *planning.exiting(CTX.config, exits)})
            await planning.exit_sequences(uow, CTX, exits, log, existing)
            await planning.replan(uow, CTX, moved, {}, set(), log, existing)
        else:
            await planning.exit_sequences(uow, CTX, exits, log)
            await planning.replan(uow, CTX, moved, {}, set(), log)
        done.append((log, dict(uow.touches.rows)))
    assert done[0] == done[1]


def test_a_stored_step_without_its_sequence_still_asks_the_store() -> None:
    """Touches stored as ``<sequence>`` alone, or under another case, may match the store's
    LIKE: the statement is not left out for them (a wrong yes only costs the statement)."""
    odd = ExistingTouch.stored("t1", "Awareness-Education/x", "awareness", "email", "planned", None)
    assert planning._may_plan({"c1": [odd]}, ["c1"], "awareness-education")
    assert planning._may_plan({}, ["c1"], "awareness-education")  # not read: asked
    done = ExistingTouch.stored(
        "t2", "awareness-education/x", "awareness", "email", "dispatched", None
    )
    assert not planning._may_plan({"c1": [done]}, ["c1"], "awareness-education")
    assert not planning._may_plan({"c1": [odd]}, ["c1"], "awareness")


def test_one_memo_keeps_each_window_and_each_sequence_apart() -> None:
    """Memoised answers are per window and per sequence: two windows asked at the same instant
    and zone each get their own opening, and two sequences their own steps."""
    openings = Openings()
    tz, now = ZoneInfo("Europe/Berlin"), datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 07:00 there
    early = SendWindow(days=frozenset(range(7)), start=time(8, 0), end=time(12, 0))
    late = SendWindow(days=frozenset(range(7)), start=time(14, 0), end=time(18, 0))
    assert openings.next_open(early, now, tz) == early.next_open(now, tz)
    assert openings.next_open(late, now, tz) == late.next_open(now, tz) != early.next_open(now, tz)

    config = default_nurture()
    memo = PlanMemo(config)
    first, second = config.sequences[0], config.sequences[1]
    assert [s.id for s, _ in memo.steps(first)] == [s.id for s in first.steps]
    assert [s.id for s, _ in memo.steps(second)] == [s.id for s in second.steps]
    assert [s.id for s, _ in memo.steps(first)] != [s.id for s, _ in memo.steps(second)]


def test_a_memo_made_for_another_plan_is_not_used() -> None:
    """plan_contact given a memo of another plan (a reload between batches) plans from its own
    plan, as without a memo."""
    config = default_nurture()
    other = config.model_copy(update={"sequences": config.sequences[1:]})
    who = Recipient("c1", "a1", Stage.AWARENESS, ZoneInfo("UTC"), role="manager")
    ledger = ConsentLedger(
        entries=[
            ConsentEntry(
                "c1",
                Channel.EMAIL,
                ConsentStatus.GRANTED,
                "form",
                "form",
                NOW - timedelta(days=1),
                Actor.SOURCE,
            )
        ]
    )
    alone = plan_contact(config, who, ledger, [], NOW)
    assert alone.create, "the awareness sequence plans for an opted-in contact"
    assert plan_contact(config, who, ledger, [], NOW, PlanMemo(other)) == alone


def test_a_naive_now_is_answered_by_the_window_itself_each_time() -> None:
    """A naive ``now`` is read in the machine's zone, which a memo keyed by instant cannot
    know: it is passed to the window as it is, every time (here: an always-open window
    answers with that very ``now``)."""
    memo, always = Openings(), SendWindow()
    naive = datetime(2026, 11, 27, 9, 30)
    for tz in (ZoneInfo("Europe/Berlin"), ZoneInfo("Pacific/Chatham")):
        assert memo.next_open(always, naive, tz) is naive
        assert memo.next_open(always, naive, tz) is naive
