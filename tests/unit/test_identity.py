"""Identity resolution: who an event belongs to, decided without I/O."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from schemas.events import EngagementEvent
from services.orchestrator.domain.identity import (
    account_key,
    account_refs,
    contact_aliases,
    resolve_accounts,
    resolve_contacts,
    stable_id,
)


def ev(event_id: str, account: dict[str, Any] | None = None, **contact: str) -> EngagementEvent:
    return EngagementEvent.model_validate(
        {
            "id": event_id,
            "type": "page_viewed",
            "source": "t",
            "time": "2026-11-02T10:00:00Z",
            "contact": contact,
            **({"account": account} if account else {}),
        }
    )


def test_aliases_are_listed_strongest_first() -> None:
    e = ev("1", external_id="u1", email="Ana@Acme.com", anonymous_id="an1")
    assert contact_aliases(e) == ["ext:u1", "email:ana@acme.com", "anon:an1"]


def test_a_new_person_gets_an_id_derived_from_their_strongest_alias() -> None:
    res = resolve_contacts([ev("1", external_id="u1", email="a@acme.com")], {})
    assert res.contact_of["1"] == stable_id("c_", "ext:u1")
    assert res.new_aliases == {
        "ext:u1": res.contact_of["1"],
        "email:a@acme.com": res.contact_of["1"],
    }


def test_an_event_without_external_id_is_matched_by_email() -> None:
    known = {"email:a@acme.com": "c_known"}
    res = resolve_contacts([ev("1", email="A@acme.com")], known)
    assert res.contact_of["1"] == "c_known"
    assert res.created == set()


def test_identify_attaches_the_anonymous_history_to_the_known_lead() -> None:
    known = {"anon:an1": "c_anon", "ext:u1": "c_lead"}
    res = resolve_contacts([ev("1", external_id="u1", anonymous_id="an1")], known)
    assert res.contact_of["1"] == "c_lead"
    assert [(m.loser, m.winner, m.via) for m in res.merges] == [("c_anon", "c_lead", "anon:an1")]
    assert res.moved_aliases == {"anon:an1": "c_lead"}


def test_an_unknown_external_id_adopts_the_anonymous_visitor() -> None:
    res = resolve_contacts([ev("1", external_id="u9", anonymous_id="an1")], {"anon:an1": "c_anon"})
    assert res.contact_of["1"] == "c_anon"
    assert res.new_aliases == {"ext:u9": "c_anon"}
    assert res.merges == []


def test_later_events_in_a_batch_see_earlier_ones() -> None:
    res = resolve_contacts(
        [
            ev("1", anonymous_id="an1"),
            ev("2", external_id="u1", anonymous_id="an1"),
            ev("3", external_id="u1"),
        ],
        {},
    )
    assert res.contact_of["1"] == res.contact_of["2"] == res.contact_of["3"]


def test_work_email_domain_maps_to_an_account_but_free_mail_does_not() -> None:
    assert account_key(ev("1", email="ana@acme.com")) == "domain:acme.com"
    assert account_key(ev("2", email="ana@gmail.com")) is None
    assert (
        account_key(ev("3", {"external_id": "acc-1", "domain": "acme.com"}, email="a@x.com"))
        == "ext:acc-1"
    )
    assert account_key(ev("4", {"domain": "WWW.Acme.com"}, email="a@x.com")) == "domain:acme.com"


people = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "external_id": st.sampled_from(["u1", "u2", "u3"]),
            "email": st.sampled_from(["a@acme.com", "b@acme.com"]),
            "anonymous_id": st.sampled_from(["an1", "an2", "an3"]),
        },
    ).filter(bool),
    min_size=1,
    max_size=12,
)


@given(people)
def test_resolution_is_deterministic_and_consistent(contacts: list[dict[str, str]]) -> None:
    events = [ev(str(i), **c) for i, c in enumerate(contacts)]
    first, second = resolve_contacts(events, {}), resolve_contacts(events, {})
    assert first.contact_of == second.contact_of
    # replaying with everything already stored changes nothing and creates nobody
    stored = {**first.new_aliases, **first.moved_aliases}
    again = resolve_contacts(events, stored)
    assert again.created == set() and again.new_aliases == {}
    # the final owner of every alias is the contact of the last event that carried it
    for e in events:
        for alias in contact_aliases(e):
            assert alias in stored


def test_an_account_named_by_domain_is_found_again_by_domain() -> None:
    res = resolve_accounts(
        [ev("1", {"domain": "acme.com"}, email="a@acme.com")], [("a_1", None, "acme.com")]
    )
    assert res.account_of["1"] == "a_1"
    assert res.claims["a_1"] == {}


def test_the_crm_id_adopts_the_account_first_seen_through_a_work_email() -> None:
    res = resolve_accounts(
        [ev("1", {"external_id": "acc-1", "domain": "acme.com"}, email="a@acme.com")],
        [("a_dom", None, "acme.com")],
    )
    assert res.account_of["1"] == "a_dom"
    assert res.claims["a_dom"] == {"external_id": "acc-1"}


def test_a_second_crm_account_on_a_shared_domain_does_not_steal_it() -> None:
    res = resolve_accounts(
        [ev("1", {"external_id": "acc-2", "domain": "acme.com"}, email="a@acme.com")],
        [("a_1", "acc-1", "acme.com")],
    )
    new_id = res.account_of["1"]
    assert new_id != "a_1"
    assert res.claims[new_id] == {"external_id": "acc-2"}


def test_free_mail_contacts_without_an_account_have_none() -> None:
    res = resolve_accounts([ev("1", email="a@gmail.com")], [])
    assert res.account_of["1"] is None


def test_two_events_for_a_new_account_in_one_batch_share_it() -> None:
    res = resolve_accounts(
        [ev("1", email="a@acme.com"), ev("2", {"domain": "acme.com"}, email="b@x.com")], []
    )
    assert res.account_of["1"] == res.account_of["2"]
    assert res.claims[res.account_of["1"] or ""] == {"domain": "acme.com"}


def test_aliases_and_refs_the_caller_has_already_resolve_as_the_events_would() -> None:
    batch = [
        ev("1", {"external_id": "acc-1", "domain": "acme.com"}, external_id="u1"),
        ev("2", None, email="b@acme.com"),
        ev("3", {"domain": "www.Beta.io"}, external_id="u1", email="b@acme.com"),
    ]
    known = {"email:b@acme.com": "c_known"}
    aliases = [contact_aliases(e) for e in batch]
    assert resolve_contacts(batch, known, aliases) == resolve_contacts(batch, known)
    stored = [("a_1", "acc-1", None)]
    refs = [account_refs(e) for e in batch]
    assert resolve_accounts(batch, stored, refs) == resolve_accounts(batch, stored)
    # what the caller passes is what is used, not the events read again
    assert resolve_contacts(batch[:1], {}, [["ext:other"]]).contact_of["1"] == stable_id(
        "c_", "ext:other"
    )
    assert resolve_accounts(batch[:1], [], [("acc-9", None)]).claims == {
        stable_id("a_", "ext:acc-9"): {"external_id": "acc-9"}
    }


def test_ids_are_derived_as_stored_ones_were() -> None:
    """Ids are stored and derived again by every instance: the derivation never changes."""
    assert stable_id("c_", "ext:u1") == "c_7b7ceb8117b5980c1b298bff"
    res = resolve_accounts([ev("1", {"domain": "Acme.com"}, email="a@x.org")], [])
    assert res.account_of["1"] == "a_bdb5e2d18034c2ad5928e4fd"  # stable_id("a_", "domain:acme.com")
    other = resolve_accounts([ev("2", {"domain": "beta.io"}, email="b@x.org")], [])
    assert other.account_of["2"] == stable_id("a_", "domain:beta.io") != res.account_of["1"]


def test_an_event_without_an_account_does_not_stop_the_rest_of_the_batch() -> None:
    batch = [ev("1", None, email="p@gmail.com"), ev("2", {"external_id": "acc-1"}, email="q@x.org")]
    res = resolve_accounts(batch, [])
    assert res.account_of == {"1": None, "2": stable_id("a_", "ext:acc-1")}


def test_an_external_id_claimed_in_the_batch_keeps_its_domain_from_another_external_id() -> None:
    """Subsidiaries may share a domain: the second external id is not folded into the first."""
    batch = [
        ev("1", {"external_id": "acc-1", "domain": "acme.com"}, email="a@acme.com"),
        ev("2", {"external_id": "acc-2", "domain": "acme.com"}, email="b@acme.com"),
    ]
    res = resolve_accounts(batch, [])
    first, second = res.account_of["1"], res.account_of["2"]
    assert first == stable_id("a_", "ext:acc-1") and second == stable_id("a_", "ext:acc-2")
    assert res.merges == [] and res.claims[second] == {"external_id": "acc-2"}


def test_new_contacts_are_listed_as_created_and_a_merge_names_its_event() -> None:
    res = resolve_contacts([ev("1", external_id="u1"), ev("2", email="new@acme.com")], {})
    assert res.created == {stable_id("c_", "ext:u1"), stable_id("c_", "email:new@acme.com")}
    known = {"ext:u1": "c_a", "email:b@acme.com": "c_b"}
    batch = [ev("3", email="fresh@acme.com"), ev("4", external_id="u1", email="b@acme.com")]
    merged = resolve_contacts(batch, known)
    assert [(m.loser, m.winner, m.event_id) for m in merged.merges] == [("c_b", "c_a", "4")]
    assert merged.created == {stable_id("c_", "email:fresh@acme.com")}  # not the merged-away one
