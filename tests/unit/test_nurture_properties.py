"""Properties of the nurture policy over random clocks, zones, consent and touch histories."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.domain.caps import SentTouch
from services.orchestrator.domain.channels import Channel, TouchChannel
from services.orchestrator.domain.consent import (
    ConsentEntry,
    ConsentLedger,
    ConsentStatus,
    Suppression,
    SuppressionKind,
)
from services.orchestrator.domain.eligibility import (
    Allowed,
    PlannedTouch,
    Recipient,
    check_eligibility,
)
from services.orchestrator.domain.quiet_hours import SendWindow
from services.orchestrator.domain.stages import Stage

CONFIG = default_nurture()
CAPS, WINDOWS = CONFIG.caps, {c: CONFIG.window_for(c) for c in TouchChannel}
ZONES = [
    ZoneInfo(z)
    for z in (
        "Europe/Berlin",
        "America/New_York",
        "Europe/London",
        "Australia/Sydney",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "UTC",
    )
]
START = datetime(2026, 1, 1, tzinfo=UTC)
instants = st.integers(0, 366 * 24 * 60).map(lambda m: START + timedelta(minutes=m, seconds=17))
zones = st.sampled_from(ZONES)


@st.composite
def windows(draw: st.DrawFn) -> SendWindow:
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    start = draw(st.integers(0, 23 * 60))
    end = draw(st.one_of(st.none(), st.integers(start + 1, 24 * 60 - 1)))
    return SendWindow(
        days=days,
        start=time(start // 60, start % 60),
        end=None if end is None else time(end // 60, end % 60),
    )


@settings(max_examples=400, deadline=None)
@given(window=windows(), now=instants, tz=zones)
def test_next_open_is_open_not_before_now_and_nothing_earlier_is_open(
    window: SendWindow, now: datetime, tz: ZoneInfo
) -> None:
    opening = window.next_open(now, tz)
    assert opening >= now
    assert window.contains(opening, tz)
    if opening > now:
        assert not window.contains(opening - timedelta(seconds=1), tz)


CONTACTS = ("c1", "c2", "c3", "c4")
consent_events = st.lists(
    st.tuples(
        st.sampled_from(CONTACTS),
        st.sampled_from([*ConsentStatus, *SuppressionKind]),
        st.sampled_from(list(Channel)),
        st.integers(0, 60 * 24 * 30),
    ),
    max_size=12,
)
attempts = st.lists(
    st.tuples(
        st.sampled_from(CONTACTS),
        st.sampled_from([TouchChannel.EMAIL, TouchChannel.SMS, TouchChannel.REP_CALL_REMINDER]),
        st.integers(0, 60 * 24 * 14),
    ),
    max_size=80,
)


def ledger_for(
    contact: str, events: list[tuple[str, object, Channel, int]], at: datetime, opted_in: bool
) -> ConsentLedger:
    entries = [ConsentEntry(contact, c, ConsentStatus.GRANTED, "form", "ev", at) for c in Channel]
    entries = entries if opted_in else []
    suppressions = []
    for who, kind, channel, minute in events:
        if who != contact:
            continue
        when = at + timedelta(minutes=minute)
        if isinstance(kind, ConsentStatus):
            entries.append(ConsentEntry(who, channel, kind, "test", "ev", when))
        elif isinstance(kind, SuppressionKind):
            suppressions.append(Suppression(who, kind, "test", "ev", when, channel))
    return ConsentLedger(entries, suppressions)


def refused(ledger: ConsentLedger, channel: Channel, now: datetime) -> bool:
    """An independent oracle: do-not-contact, or the channel's latest word is a 'no'."""
    past = [s for s in ledger.suppressions if s.recorded_at <= now]
    if any(s.kind is SuppressionKind.DO_NOT_CONTACT for s in past):
        return True
    said = [  # ties: a suppression beats an entry; between entries the later appended wins
        (e.recorded_at, 0, i, e.status is ConsentStatus.WITHDRAWN)
        for i, e in enumerate(ledger.entries)
        if e.channel is channel and e.recorded_at <= now
    ]
    said += [(s.recorded_at, 1, 0, True) for s in past if s.blocks is channel]
    return bool(said) and max(said)[3]


def touch(contact: str, channel: TouchChannel, due: datetime) -> PlannedTouch:
    return PlannedTouch(
        f"{contact}-{channel}-{due.isoformat()}",
        contact,
        "acme",
        "s",
        "step",
        Stage.RETAINED,
        channel,
        "t",
        None,
        due,
    )


@settings(max_examples=200, deadline=None)
@given(events=consent_events, tries=attempts, start=instants, tz=zones, opted_in=st.booleans())
def test_dispatches_always_have_consent_respect_caps_and_avoid_quiet_hours(
    events: list[tuple[str, object, Channel, int]],
    tries: list[tuple[str, TouchChannel, int]],
    start: datetime,
    tz: ZoneInfo,
    opted_in: bool,
) -> None:
    sent: list[SentTouch] = []
    for contact, channel, minute in sorted(tries, key=lambda t: t[2]):
        now = start + timedelta(minutes=minute)
        ledger = ledger_for(contact, events, start, opted_in)
        who = Recipient(contact, "acme", Stage.RETAINED, tz)
        verdict = check_eligibility(touch(contact, channel, now), who, ledger, sent, CONFIG, now)
        if isinstance(verdict, Allowed):
            assert ledger.allows(channel.consent_channel, now)
            assert not refused(ledger, channel.consent_channel, now)
            assert WINDOWS[channel].contains(now, tz)
            sent.append(SentTouch(contact, "acme", channel, now))
        else:
            assert verdict.retry_at is None or verdict.retry_at > now
    caps = CAPS
    counted = [t for t in sent if not t.channel.is_reminder]
    for t in counted:
        for channel, cap in caps.per_channel.items():
            inside = [
                u
                for u in counted
                if u.contact_id == t.contact_id
                and u.channel is channel
                and t.sent_at - cap.window < u.sent_at <= t.sent_at
            ]
            assert len(inside) <= cap.max_touches
        day = [u for u in counted if t.sent_at - timedelta(days=1) < u.sent_at <= t.sent_at]
        assert caps.account_per_day is None or len(day) <= caps.account_per_day
        gap = [
            u
            for u in counted
            if u.contact_id == t.contact_id
            and u is not t
            and abs(u.sent_at - t.sent_at) < caps.min_gap
        ]
        assert not gap


@settings(max_examples=200, deadline=None)
@given(
    channel=st.sampled_from([TouchChannel.EMAIL, TouchChannel.SMS]),
    granted=st.integers(0, 1000),
    withdrawn=st.integers(0, 1000),
    due=st.integers(0, 2000),
    start=instants,
)
def test_a_withdrawn_consent_wins_over_a_planned_touch(
    channel: TouchChannel, granted: int, withdrawn: int, due: int, start: datetime
) -> None:
    c = channel.consent_channel
    at = [start + timedelta(minutes=m) for m in (granted, withdrawn, due)]
    ledger = ConsentLedger(
        [
            ConsentEntry("c1", c, ConsentStatus.GRANTED, "form", "ev", at[0]),
            ConsentEntry("c1", c, ConsentStatus.WITHDRAWN, "link", "ev", max(at[0], at[1])),
        ]
    )
    who = Recipient("c1", "acme", Stage.RETAINED, ZoneInfo("UTC"))
    planned = touch("c1", channel, at[2])
    verdict = check_eligibility(planned, who, ledger, [], CONFIG, at[2])
    if at[2] >= max(at[0], at[1]):
        assert not isinstance(verdict, Allowed)
