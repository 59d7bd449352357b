"""One account per company (issue 17, item 3): an account first known by its domain and one known
by the CRM's external id are merged when an event names both; decided purely, then through the
handler on the in-memory unit of work (what simulate runs)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import EngagementEvent
from services.orchestrator.adapters.memory_uow import MemoryUnitOfWork
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.application.engagement import handle_engagement
from services.orchestrator.application.unit_of_work import InboxEntry
from services.orchestrator.domain.account_merge import absorb_account_merges, rekey_account
from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.identity import AccountMerge, resolve_accounts, stable_id
from services.orchestrator.domain.stages import DecisionKind, Stage
from services.orchestrator.domain.state import AccountState, ContactState, Member
from services.orchestrator.people import Nurture

T = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def ev(eid: str, account: dict[str, Any] | None, email: str, kind: str = "page_viewed",
       role: str = "user", minutes: int = 0) -> EngagementEvent:  # fmt: skip
    return EngagementEvent.model_validate({
        "id": eid, "type": kind, "source": "t",
        "time": (T + timedelta(minutes=minutes)).isoformat(),
        "contact": {"email": email, "traits": {"role": role}},
        **({"account": account} if account else {}),
    })  # fmt: skip


BOTH = {"external_id": "crm-1", "domain": "acme.com"}


def test_an_event_naming_both_merges_the_domain_account_into_the_crm_one() -> None:
    known = [("a_ext", "crm-1", None), ("a_dom", None, "acme.com")]
    res = resolve_accounts([ev("1", BOTH, "a@acme.com")], known)
    assert res.account_of["1"] == "a_ext"
    assert res.merges == [AccountMerge("a_dom", "a_ext", "domain:acme.com", "1", None)]
    assert res.claims["a_ext"] == {"domain": "acme.com"}, "the survivor takes the domain"


def test_a_survivor_with_a_domain_of_its_own_leaves_the_other_on_the_merged_row() -> None:
    known = [("a_ext", "crm-1", "acme.io"), ("a_dom", None, "acme.com")]
    res = resolve_accounts([ev("1", BOTH, "a@acme.com")], known)
    assert res.merges == [AccountMerge("a_dom", "a_ext", "domain:acme.com", "1", "acme.com")]
    assert res.claims["a_ext"] == {}


def test_a_domain_held_by_another_crm_account_is_a_subsidiary_not_a_merge() -> None:
    known = [("a_ext", "crm-1", None), ("a_sub", "crm-2", "acme.com")]
    res = resolve_accounts([ev("1", BOTH, "a@acme.com")], known)
    assert res.account_of["1"] == "a_ext" and res.merges == []


def test_a_known_merge_redirect_finds_the_survivor_without_a_new_merge() -> None:
    known = [("a_ext", "crm-1", "acme.io"), ("a_ext", None, "acme.com")]  # as adapters report it
    res = resolve_accounts([ev("1", {"domain": "acme.com"}, "a@acme.com"),
                            ev("2", BOTH, "b@acme.com")], known)  # fmt: skip
    assert res.account_of == {"1": "a_ext", "2": "a_ext"} and res.merges == []


def test_inside_one_batch_earlier_events_follow_the_merge_and_nothing_new_is_recorded() -> None:
    batch = [ev("1", {"domain": "acme.com"}, "a@acme.com"),
             ev("2", {"external_id": "crm-1"}, "b@x.example"),
             ev("3", BOTH, "c@acme.com"), ev("4", None, "d@acme.com")]  # fmt: skip
    res = resolve_accounts(batch, [])
    winner = stable_id("a_", "ext:crm-1")
    assert set(res.account_of.values()) == {winner}
    assert res.merges == [], "the loser was never stored and the survivor takes its domain"
    assert res.claims == {winner: {"external_id": "crm-1", "domain": "acme.com"}}


def _contact(key: str, account: str | None, *pending_accounts: str | None) -> ContactState:
    pending = tuple(
        Engagement(event_id=f"{key}-{n}", type="page_viewed", occurred_at=T, contact_key=key,
                   account_key=a)
        for n, a in enumerate(pending_accounts)
    )  # fmt: skip
    return ContactState(key=key, account_key=account, pending=pending)


def test_a_moved_contact_names_the_survivor_in_its_state_and_its_pending_events() -> None:
    moved = rekey_account(_contact("c1", "a_dom", "a_dom", None, "a_other"), {"a_dom": "a_ext"})
    assert moved.account_key == "a_ext"
    assert [e.account_key for e in moved.pending] == ["a_ext", None, "a_other"]
    untouched = _contact("c2", "a_other", "a_other")
    assert rekey_account(untouched, {"a_dom": "a_ext"}) is untouched


def test_only_the_window_events_naming_a_merged_account_move_and_the_contact_stays() -> None:
    """A contact of an account that was not merged, whose window names one that was: its
    events move to the survivor, the contact keeps its own account (and one with none, none)."""
    stays = rekey_account(_contact("c1", "a_own", "a_dom", "a_own"), {"a_dom": "a_ext"})
    assert stays.account_key == "a_own"
    assert [e.account_key for e in stays.pending] == ["a_ext", "a_own"]
    homeless = rekey_account(_contact("c2", None, "a_dom"), {"a_dom": "a_ext"})
    assert homeless.account_key is None
    assert [e.account_key for e in homeless.pending] == ["a_ext"]


def test_a_merge_whose_loser_was_not_loaded_leaves_the_next_merge_to_happen() -> None:
    """A merge whose losing account is not among the loaded states moves nothing; the next
    merge still moves its members, into a survivor that was not loaded either."""
    loser = AccountState(key="b_dom", members={"c3": Member(stage=Stage.MQL, score=9.0, role=None)})
    merged = absorb_account_merges(
        {"c3": _contact("c3", "b_dom")}, {}, {"b_dom": loser},
        [AccountMerge("a_dom", "a_ext", "domain:a.example", "e1"),
         AccountMerge("b_dom", "b_ext", "domain:b.example", "e2")],
    )  # fmt: skip
    assert set(merged.accounts) == {"b_ext"}
    assert merged.accounts["b_ext"].key == "b_ext"
    assert set(merged.accounts["b_ext"].members) == {"c3"}
    assert merged.contacts["c3"].account_key == "b_ext"


def test_the_survivor_gains_the_losers_live_members_and_the_loser_is_dropped() -> None:
    loser = AccountState(
        key="a_dom",
        members={
            "c1": Member(stage=Stage.SQL, score=30.0, role="finance"),
            "gone": Member(stage=Stage.ENGAGED, score=5.0, role="user"),
        },
    )
    winner = AccountState(
        key="a_ext", members={"c2": Member(stage=Stage.AWARENESS, score=1.0, role="manager")}
    )
    merged = absorb_account_merges(
        {"c2": _contact("c2", "a_ext")}, {"c1": _contact("c1", "a_dom", "a_dom")},
        {"a_dom": loser, "a_ext": winner},
        [AccountMerge("a_dom", "a_ext", "domain:acme.com", "e1")],
    )  # fmt: skip
    assert set(merged.accounts) == {"a_ext"}
    assert set(merged.accounts["a_ext"].members) == {"c1", "c2"}, "a merged-away contact stays out"
    assert merged.carried["c1"].account_key == "a_ext"
    assert merged.contacts["c2"].account_key == "a_ext"


# through the handler, on the in-memory unit of work ------------------------------------------


PLAN = Nurture(default_nurture(), ("pool@reps.example",), ("reps.example",))


async def _feed(uow: MemoryUnitOfWork, events: list[EngagementEvent], hours: int) -> None:
    received = [(InboxEntry(e.id, "t", 0, n), e) for n, e in enumerate(events)]
    await handle_engagement(uow, received, default_playbook(), T + timedelta(hours=hours), PLAN)


async def test_a_merge_moves_people_history_and_aggregates_to_the_survivor() -> None:
    uow = MemoryUnitOfWork()
    dom = {"domain": "acme.com"}
    demos = [ev("d1", dom, "ana@acme.com", "demo_requested", "technical", 1),
             ev("d2", dom, "cfo@acme.com", "demo_requested", "finance", 2)]  # fmt: skip
    await _feed(uow, demos, 1)
    await _feed(uow, [ev("x1", {"external_id": "crm-1"}, "bo@acme.com", role="manager")], 2)
    [a_dom] = [a for a, v in uow.accounts.view_of.items() if v.domain == "acme.com"]
    a_ext = stable_id("a_", "ext:crm-1")
    before = uow.accounts.state_of[a_dom]
    assert before.stage is Stage.SQL and uow.accounts.state_of[a_ext].stage is Stage.AWARENESS
    assert {n.account_id for n in uow.reminders.stored.values()} == {a_dom}, "the demo requests"

    await _feed(uow, [ev("m1", BOTH, "bo@acme.com", role="manager", minutes=90)], 3)
    after = uow.accounts.state_of[a_ext]
    assert after.stage is Stage.SQL
    assert {"finance", "technical"} <= set(after.coverage)
    assert after.score >= before.score > 0
    people = {v.email: v.account_id for v in uow.contacts.view_of.values()}
    assert set(people.values()) == {a_ext}
    assert {s.account_key for s in uow.contacts.state_of.values()} == {a_ext}
    assert a_dom not in uow.accounts.state_of and uow.accounts.view_of[a_dom].stage == "merged"
    await uow.accounts.save({a_dom: before}, {}, T)  # as a racing instance would: no effect
    assert a_dom not in uow.accounts.state_of and uow.accounts.view_of[a_dom].stage == "merged"
    assert uow.accounts.view_of[a_ext].domain == "acme.com"
    history = [t for t, _ in uow.contacts.history if t.subject_kind == "account"]
    assert {t.subject_key for t in history} == {a_ext}
    assert Stage.SQL in {t.to_stage for t in history}
    assert {n.account_id for n in uow.reminders.stored.values()} == {a_ext}
    [logged] = [e for e in uow.decisions.entries if e.kind == DecisionKind.IDENTITY_MERGED]
    assert (logged.account_key, logged.facts["merged_account"]) == (a_ext, a_dom)

    await _feed(uow, [ev("later", None, "dee@acme.com")], 4)  # the domain alone: the survivor
    assert uow.contacts.state_of[stable_id("c_", "email:dee@acme.com")].account_key == a_ext
    assert set(uow.accounts.state_of[a_ext].members) >= {
        stable_id("c_", "email:ana@acme.com"), stable_id("c_", "email:dee@acme.com")}  # fmt: skip


SHAPES = ({"domain": "acme.com"}, {"external_id": "crm-1"}, BOTH)


@settings(max_examples=60, deadline=None)
@given(
    shapes=st.lists(st.sampled_from(range(3)), min_size=1, max_size=7),
    cuts=st.sets(st.integers(1, 6)),
    minutes=st.lists(st.integers(0, 600), min_size=7, max_size=7),
)
def test_whatever_the_order_and_batching_a_company_named_both_ways_is_one_account(
    shapes: list[int], cuts: set[int], minutes: list[int]
) -> None:
    events = [
        ev(f"e{n}", SHAPES[s], f"p{n}@acme.com", minutes=minutes[n]) for n, s in enumerate(shapes)
    ]
    bounds = [0, *sorted(c for c in cuts if c < len(events)), len(events)]
    uow = MemoryUnitOfWork()

    async def run() -> None:
        for hour, (a, b) in enumerate(pairwise(bounds)):
            await _feed(uow, events[a:b], 12 + hour)

    asyncio.run(run())
    live = set(uow.accounts.state_of)
    people = {s.account_key for s in uow.contacts.state_of.values()}
    assert people <= live
    if 2 in shapes:  # one event named both: one company, one account, known both ways
        [aid] = live
        assert people == {aid} and set(uow.accounts.state_of[aid].members) == set(
            uow.contacts.state_of
        )
        assert (uow.accounts.external_id_of[aid], uow.accounts.view_of[aid].domain) == (
            "crm-1",
            "acme.com",
        )
    else:  # never named together: as many accounts as ways it was named
        assert len(live) == len(set(shapes))
