"""The rep-reminder part of the application layer on the in-memory unit of work: CRM owners,
pricing views, the pool's picks, and reminders with their call touches."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from services.orchestrator.adapters.memory_uow import MemoryUnitOfWork
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.application import rep_reminders as rr
from services.orchestrator.domain.owners import RepDirectory
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.reminders import ReminderNeed, ReminderReason, Signal
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.domain.views import AccountView, ContactView
from services.orchestrator.people import Nurture

WEDNESDAY = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)  # 09:00 in Los Angeles
REPS = RepDirectory({}, ("pool@reps.example",), ("reps.example",))
POOL = ("ann@reps.example", "bob@reps.example")


def signal(kind: str, contact: str = "c1", account: str | None = "a1", at: datetime = WEDNESDAY,
           event: str = "e1", **props: Any) -> Signal:  # fmt: skip
    return Signal(event, contact, account, kind, props, at)


def world(*people: ContactView, accounts: tuple[AccountView, ...] = ()) -> MemoryUnitOfWork:
    uow = MemoryUnitOfWork()
    uow.contacts.view_of.update({p.id: p for p in people})
    uow.accounts.view_of.update({a.id: a for a in accounts})
    return uow


def only(log: list[DecisionRecord]) -> DecisionRecord:
    (record,) = log
    return record


async def test_a_crm_owner_who_is_a_rep_owns_the_contact_and_the_account() -> None:
    uow = world(ContactView("c1", "a1"), accounts=(AccountView("a1"),))
    log: list[DecisionRecord] = []
    changes = [signal("page_viewed", event="e0"),
               signal("crm_owner_changed", owner_email=" Sam@Reps.example ")]  # fmt: skip
    await rr.owner_changes(uow, changes, REPS, WEDNESDAY, log)
    assert uow.contacts.view_of["c1"].owner_rep == "sam@reps.example"
    assert uow.accounts.view_of["a1"].owner_rep == "sam@reps.example"
    record = only(log)
    assert (record.kind, record.reason, record.event_id) == (
        TouchDecision.OWNER_CHANGED,
        Reason.CRM_OWNER,
        "e1",
    )
    assert record.facts == {"owner": "sam@reps.example"} and record.account_id == "a1"


async def test_an_owner_who_is_not_a_rep_changes_nothing_and_is_refused_with_what_was_claimed(
) -> None:  # fmt: skip
    uow = world(ContactView("c1", "a1", owner_rep="old@reps.example"),
                accounts=(AccountView("a1", owner_rep="old@reps.example"),))  # fmt: skip
    log: list[DecisionRecord] = []
    claim = signal("crm_owner_changed", owner_email="x@evil.example", owner_id="42")
    await rr.owner_changes(uow, [claim], REPS, WEDNESDAY, log)
    assert uow.contacts.view_of["c1"].owner_rep == "old@reps.example"
    assert uow.accounts.view_of["a1"].owner_rep == "old@reps.example"
    record = only(log)
    assert (record.kind, record.reason) == (TouchDecision.OWNER_REFUSED, Reason.NOT_A_REP)
    assert record.facts == {"owner_id": "42", "claimed": "x@evil.example"}
    assert record.event_id == "e1" and record.contact_id == "c1"


async def test_a_contact_without_an_account_gets_its_owner_alone() -> None:
    uow = world(ContactView("c1", None))
    await rr.owner_changes(
        uow,
        [signal("crm_owner_changed", account=None, owner_email="sam@reps.example")],
        REPS,
        WEDNESDAY,
        [],
    )
    assert uow.contacts.view_of["c1"].owner_rep == "sam@reps.example"
    assert uow.accounts.view_of == {}


def test_a_pricing_view_is_a_page_under_pricing_or_one_the_producer_marks() -> None:
    assert rr.is_pricing_view(signal("page_viewed", path="/Pricing/teams"))
    assert rr.is_pricing_view(signal("page_viewed", url="https://x.example/pricing"))
    assert rr.is_pricing_view(signal("page_viewed", path="/blog", is_pricing=True))
    assert not rr.is_pricing_view(signal("page_viewed", path="/blog", is_pricing="yes"))
    assert not rr.is_pricing_view(signal("page_viewed", path="/blog"))
    assert not rr.is_pricing_view(signal("page_viewed", path=7))
    assert not rr.is_pricing_view(signal("content_downloaded", path="/pricing"))


async def test_pricing_viewers_join_this_batch_with_the_logged_views_of_the_last_two_weeks(
) -> None:  # fmt: skip
    uow = world()
    old = WEDNESDAY - rr.PRICING_LOOKBACK - timedelta(minutes=1)
    recent = WEDNESDAY - rr.PRICING_LOOKBACK + timedelta(minutes=1)
    for who, at, event in (("c8", old, "e8"), ("c9", recent, "e9")):
        await uow.decisions.log([DecisionRecord(
            contact_id=who, account_id="a1", kind=TouchDecision.PRICING_VIEWED,
            reason=Reason.PRICING_PAGE, facts={}, event_id=event, playbook_version="nurture",
            decided_at=at,
        )])  # fmt: skip
    log: list[DecisionRecord] = []
    batch = [signal("page_viewed", "c1", event="e1", path="/pricing"),
             signal("page_viewed", "c2", account=None, event="e2", path="/pricing"),
             signal("page_viewed", "c3", event="e3", path="/blog")]  # fmt: skip
    found = await rr.pricing_viewers(uow, batch, WEDNESDAY, log)
    assert found == {"a1": {"c9": "e9", "c1": "e1"}}
    record = only(log)
    assert (record.kind, record.reason, record.contact_id, record.event_id) == (
        TouchDecision.PRICING_VIEWED,
        Reason.PRICING_PAGE,
        "c1",
        "e1",
    )
    assert await rr.pricing_viewers(uow, [batch[2]], WEDNESDAY, []) == {}


async def test_the_pool_deals_new_accounts_evenly_and_stores_the_pick_on_both() -> None:
    people = {f"c{i}": ContactView(f"c{i}", f"a{i}") for i in range(4)}
    accs = {f"a{i}": AccountView(f"a{i}") for i in range(4)}
    uow = world(*people.values(), accounts=tuple(accs.values()))
    log: list[DecisionRecord] = []
    await rr.assign_owners(uow, people, accs, POOL, list(people), WEDNESDAY, log)
    picks = Counter(p.owner_rep for p in people.values())
    assert picks == Counter({POOL[0]: 2, POOL[1]: 2})
    assert all(uow.accounts.view_of[a].owner_rep == accs[a].owner_rep for a in accs)
    assert all(uow.contacts.view_of[c].owner_rep == people[c].owner_rep for c in people)
    assert {(r.reason, r.facts["pool_size"]) for r in log} == {(Reason.POOL_ASSIGNED, 2)}
    assert [r.facts["owner"] for r in log] == [people[c].owner_rep for c in sorted(people)]


async def test_the_pool_counts_stored_owners_and_leaves_owned_people_alone() -> None:
    people = {"c1": ContactView("c1", "a1"), "c2": ContactView("c2", "a2", owner_rep="z@r.x"),
              "c3": ContactView("c3", "a3")}  # fmt: skip
    accs = {"a1": AccountView("a1"), "a2": AccountView("a2"),
            "a3": AccountView("a3", owner_rep="carl@reps.example")}  # fmt: skip
    busy = AccountView("a9", owner_rep=POOL[0])
    uow = world(*people.values(), accounts=(*accs.values(), busy))
    log: list[DecisionRecord] = []
    await rr.assign_owners(uow, people, accs, POOL, ["c1", "c2", "c3", "c9"], WEDNESDAY, log)
    assert people["c1"].owner_rep == POOL[1]  # ann already owns an account
    assert people["c2"].owner_rep == "z@r.x"  # owned: untouched
    assert people["c3"].owner_rep is None and accs["a3"].owner_rep == "carl@reps.example"
    assert [r.contact_id for r in log] == ["c1"]
    await rr.assign_owners(uow, people, accs, (), ["c3"], WEDNESDAY, log)  # no pool: nothing
    assert people["c3"].owner_rep is None and len(log) == 1


async def test_colleagues_share_one_pick_and_the_writes_guard_stored_owners() -> None:
    """Two unowned people of one unowned account get one rep (the account's, counted once);
    a person without an account is dealt the next; the writes (one per table) never replace
    an owner stored meanwhile; each pick is logged with its person, account and time."""
    people = {"c1": ContactView("c1", "a1"), "c2": ContactView("c2", "a1"),
              "c3": ContactView("c3", None), "c4": ContactView("c4", "a4")}  # fmt: skip
    accs = {"a1": AccountView("a1"), "a4": AccountView("a4")}
    uow = world(*people.values(), accounts=tuple(accs.values()))
    uow.contacts.view_of["c4"] = replace(people["c4"], owner_rep="kept@reps.example")  # meanwhile
    log: list[DecisionRecord] = []
    await rr.assign_owners(uow, people, accs, POOL, list(people), WEDNESDAY, log)
    assert people["c1"].owner_rep == people["c2"].owner_rep == accs["a1"].owner_rep == POOL[0]
    assert people["c3"].owner_rep == POOL[1]  # ann has a1 now: bob is the least loaded
    assert people["c4"].owner_rep == accs["a4"].owner_rep == POOL[1]  # bob still has none
    assert uow.contacts.view_of["c4"].owner_rep == "kept@reps.example"  # stored: never replaced
    assert uow.contacts.view_of["c2"].owner_rep == POOL[0] == uow.accounts.view_of["a1"].owner_rep
    assert [(r.kind, r.reason, r.contact_id, r.account_id, r.decided_at) for r in log] == [
        (TouchDecision.OWNER_CHANGED, Reason.POOL_ASSIGNED, c, people[c].account_id, WEDNESDAY)
        for c in ("c1", "c2", "c3", "c4")
    ]


async def test_each_new_account_adds_one_to_its_reps_load() -> None:
    """Ann owns one account, bob two: a new account goes to ann (then two each), the next to
    ann again (a tie: the pool's order), only then one to bob."""
    stored = (AccountView("x1", owner_rep=POOL[0]), AccountView("x2", owner_rep=POOL[1]),
              AccountView("x3", owner_rep=POOL[1]))  # fmt: skip
    people = {f"c{i}": ContactView(f"c{i}", f"a{i}") for i in range(3)}
    accs = {f"a{i}": AccountView(f"a{i}") for i in range(3)}
    uow = world(*people.values(), accounts=(*accs.values(), *stored))
    await rr.assign_owners(uow, people, accs, POOL, list(people), WEDNESDAY, [])
    assert [accs[f"a{i}"].owner_rep for i in range(3)] == [POOL[0], POOL[0], POOL[1]]


async def test_a_contact_joins_its_accounts_owner_without_a_new_pick() -> None:
    people = {"c1": ContactView("c1", "a1")}
    accs = {"a1": AccountView("a1")}
    uow = world(*people.values(), accounts=tuple(accs.values()))
    uow.accounts.view_of["a1"] = replace(accs["a1"], owner_rep=POOL[1])  # stored meanwhile
    await rr.assign_owners(uow, people, accs, POOL, ["c1"], WEDNESDAY, [])
    assert people["c1"].owner_rep == POOL[0] == accs["a1"].owner_rep  # what this round knew
    assert uow.accounts.view_of["a1"].owner_rep == POOL[1]  # a stored owner is never replaced


NURTURE = Nurture(default_nurture(), POOL, ("reps.example",))


def need(reason: ReminderReason = ReminderReason.DEMO_REQUESTED, contact: str = "c1",
         **kw: Any) -> ReminderNeed:  # fmt: skip
    return ReminderNeed(contact, "a1", reason, ("e1",), **kw)


async def test_a_reminder_goes_to_the_owner_in_working_hours_with_its_call_touch() -> None:
    person = ContactView("c1", "a1", stage="sql", owner_rep="ann@reps.example",
                         timezone="America/Los_Angeles")  # fmt: skip
    people, accs = {"c1": person}, {"a1": AccountView("a1")}
    uow = world(person, accounts=tuple(accs.values()))
    log: list[DecisionRecord] = []
    night = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)  # 22:00 the evening before in LA
    called = await rr.create_reminders(uow, NURTURE, [need()], people, accs, night, log)
    assert called == {"c1"}
    (note,) = uow.reminders.stored.values()
    assert (note.rep, note.reason, note.contact_id) == ("ann@reps.example", "demo_requested", "c1")
    (touch,) = [r.touch for r in uow.touches.rows.values()]
    assert touch.id == note.id and touch.channel == "rep_call_reminder"
    assert touch.template_id == "reminders/demo_requested" and touch.stage == "sql"
    assert touch.due_at == note.due_at and touch.due_at > night  # the rep's window opens later
    record = only(log)
    assert (record.kind, record.reason) == (TouchDecision.REMINDER_CREATED, Reason.REP_RULE)
    assert record.facts["rep"] == "ann@reps.example" and record.touch_id == note.id


async def test_a_second_reminder_for_the_same_reason_is_deduplicated_and_a_detractor_calls_no_one(
) -> None:  # fmt: skip
    person = ContactView("c1", "a1", stage="retained", owner_rep="ann@reps.example")
    people, accs = {"c1": person}, {"a1": AccountView("a1")}
    uow = world(person, accounts=tuple(accs.values()))
    first = await rr.create_reminders(uow, NURTURE, [need(ReminderReason.NPS_DETRACTOR)],
                                      people, accs, WEDNESDAY, [])  # fmt: skip
    assert first == set()  # a detractor is a reminder, not a call
    log: list[DecisionRecord] = []
    again = ReminderNeed("c1", "a1", ReminderReason.NPS_DETRACTOR, ("e2",))
    await rr.create_reminders(uow, NURTURE, [again], people, accs,
                              WEDNESDAY + timedelta(hours=1), log)  # fmt: skip
    assert len(uow.reminders.stored) == 1
    record = only(log)
    assert (record.kind, record.reason) == (TouchDecision.REMINDER_DEDUPLICATED,
                                            Reason.NPS_DETRACTOR)  # fmt: skip
    assert record.facts == {"evidence": ["e2"]}


async def test_without_any_rep_the_reminder_is_logged_as_not_made_and_nothing_is_stored() -> None:
    person = ContactView("c1", "a1", stage="sql")
    people, accs = {"c1": person}, {"a1": AccountView("a1")}
    uow = world(person, accounts=tuple(accs.values()))
    log: list[DecisionRecord] = []
    lonely = Nurture(default_nurture())
    await rr.create_reminders(uow, lonely, [need()], people, accs, WEDNESDAY, log)
    assert uow.reminders.stored == {} and uow.touches.rows == {}
    record = only(log)
    assert (record.kind, record.reason) == (TouchDecision.TOUCH_SKIPPED, Reason.NO_REP)
    assert record.facts["template"] == "reminders/demo_requested"
    assert record.facts["channel"] == "rep_call_reminder"


async def test_a_renewal_reminder_is_one_per_key_and_waits_for_its_window() -> None:
    person = ContactView("c1", "a1", stage="retained", owner_rep="ann@reps.example")
    people, accs = {"c1": person}, {"a1": AccountView("a1")}
    uow = world(person, accounts=tuple(accs.values()))
    opens = WEDNESDAY + timedelta(days=20)
    renewal = need(ReminderReason.RENEWAL_WINDOW, due_from=opens, dedup_key="a1:2027-03-15")
    await rr.create_reminders(uow, NURTURE, [renewal], people, accs, WEDNESDAY, [])
    later = replace(renewal, contact_id="c1", evidence=("e7",))
    await rr.create_reminders(uow, NURTURE, [later], people, accs,
                              WEDNESDAY + timedelta(days=40), [])  # fmt: skip
    (note,) = uow.reminders.stored.values()
    assert note.due_at is not None and note.due_at >= opens
