"""Stored state JSON: rows written when the states were pydantic models still read back."""

from __future__ import annotations

from datetime import timedelta

import orjson

from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.repository import StateCache, state_json
from services.orchestrator.adapters.state_codec import contact_view, decode_contact
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.state import AccountState, ContactState, Progress
from tests.unit.orchestrator_events import T0, ev

# Written by the pydantic ``ContactState`` / ``AccountState`` (``model_dump_json``) before the
# domain's working objects became dataclasses.
PYDANTIC_CONTACT = (
    '{"key":"c1","account_key":"acme","checkpoint":{"stage":"engaged","stage_entered_at":"2026-03'
    '-02T21:00:00Z","score":{"value":36.815988431127735,"as_of":"2026-03-03T09:00:00Z","awards":{'
    '"page_view":[{"at":"2026-03-02T09:00:00Z","points":2.0}],"webinar_attended":[{"at":"2026-03-'
    '02T21:00:00Z","points":20.0}],"case_study":[{"at":"2026-03-03T09:00:00Z","points":15.0}]}},"'
    'engagements":3,"distinct":["case_study","page_view","webinar_attended"],"met":["mql:0","mql:'
    '2"],"contact_traits":{"role":"manager"},"account_traits":{"industry":"software","employees":'
    '400,"region":"emea"},"fit":1.0,"parked_at":null,"as_of":"2026-03-03T09:00:00Z"},"pending":[{'
    '"event_id":"e3","type":"email_clicked","occurred_at":"2026-04-11T09:00:00Z","properties":{},'
    '"contact_key":"c1","account_key":"acme","contact_traits":{"role":"manager"},"account_traits"'
    ':{"industry":"software","employees":400,"region":"emea"}}],"current":{"stage":"engaged","sta'
    'ge_entered_at":"2026-03-02T21:00:00Z","score":{"value":25.19034788170463,"as_of":"2026-04-11'
    'T09:00:00Z","awards":{"page_view":[{"at":"2026-03-02T09:00:00Z","points":2.0}],"webinar_atte'
    'nded":[{"at":"2026-03-02T21:00:00Z","points":20.0}],"case_study":[{"at":"2026-03-03T09:00:00'
    'Z","points":15.0}],"email_clicked":[{"at":"2026-04-11T09:00:00Z","points":5.0}]}},"engagemen'
    'ts":4,"distinct":["case_study","email_clicked","page_view","webinar_attended"],"met":["mql:0'
    '","mql:2"],"contact_traits":{"role":"manager"},"account_traits":{"industry":"software","empl'
    'oyees":400,"region":"emea"},"fit":1.0,"parked_at":null,"as_of":"2026-04-11T09:00:00Z"},"tran'
    'sitions":[],"score":24.805307,"playbook_version":"8e8e7b94cb9464966ca50ea1f3cca1eff36848ef93'
    '95be712a7391321eb98cef"}'
)
PYDANTIC_ACCOUNT = (
    '{"key":"acme","members":{"c1":{"stage":"engaged","score":24.805307,"role":"manager"}},"stage'
    '":"engaged","stage_entered_at":"2026-03-04T09:00:00Z","score":24.805307,"coverage":["manager'
    '"]}'
)


def _again(state: ContactState) -> ContactState:
    return decode_contact(state_json(state))


def test_a_contact_row_written_by_the_pydantic_model_reads_back_field_for_field() -> None:
    state = ContactState.from_dict(orjson.loads(PYDANTIC_CONTACT))
    assert state.stage is Stage.ENGAGED
    assert state.current.score.awards["email_clicked"][0].points == 5.0
    assert state.pending[0].occurred_at == T0 + timedelta(days=40)
    assert isinstance(state.pending[0], Engagement)
    assert state.pending[0].contact_key == "c1" and state.pending[0].account_key == "acme"
    assert state.pending[0].account_traits == {
        "industry": "software",
        "employees": 400,
        "region": "emea",
    }
    assert _again(state) == state


def test_the_compact_shape_is_smaller_and_keeps_what_the_ops_api_reads() -> None:
    stored = state_json(ContactState.from_dict(orjson.loads(PYDANTIC_CONTACT)))
    assert stored.startswith("[4,") and len(stored) < len(PYDANTIC_CONTACT)
    view = contact_view(stored)
    event = view["pending"][0]
    assert {"event_id", "type", "occurred_at", "properties"} <= event.keys()
    assert "contact_key" not in event  # the state's own key
    assert view["current"]["score"]["awards"]["email_clicked"][0]["points"] == 5.0
    assert contact_view(orjson.loads(PYDANTIC_CONTACT)) == orjson.loads(PYDANTIC_CONTACT)
    assert contact_view("{}") == contact_view(None) == contact_view("[1, 2]") == {}


def test_pending_events_keep_their_own_keys_and_traits_when_they_differ() -> None:
    events = (
        ev("page_viewed", 0, event_id="p1", role="user"),
        ev("page_viewed", 1, event_id="p2", role="user", account=None),
        ev("page_viewed", 2, event_id="p3", role="finance", account_traits={}),
        ev("page_viewed", 3, event_id="p4", contact="c_loser", role="finance"),
    )
    state = ContactState(key="c1", account_key="acme", pending=events)
    assert _again(state) == state
    assert _again(ContactState(key="c1", account_key=None, pending=events)).pending == events


def test_an_account_row_written_by_the_pydantic_model_reads_back_field_for_field() -> None:
    state = AccountState.from_dict(orjson.loads(PYDANTIC_ACCOUNT))
    assert state.members["c1"].stage is Stage.ENGAGED
    assert state_json(state) == PYDANTIC_ACCOUNT


def test_deciding_from_an_old_row_equals_deciding_from_the_live_state() -> None:
    playbook = default_playbook()
    old = ContactState.from_dict(orjson.loads(PYDANTIC_CONTACT))
    later = [
        ev("webinar_attended", 41, event_id="new-1", webinar="w2"),
        ev("page_viewed", 42, event_id="new-2", path="/pricing"),
    ]
    now = T0 + timedelta(days=43)
    replayed = decide({"c1": old}, {}, later, playbook, now)
    assert replayed.contacts["c1"].current.engagements == old.current.engagements + 2
    assert state_json(replayed.contacts["c1"]) == state_json(
        decide({"c1": decode_contact(state_json(old))}, {}, later,
               playbook, now).contacts["c1"]
    )  # fmt: skip


def test_missing_keys_take_their_defaults() -> None:
    state = ContactState.from_dict({"key": "c9"})
    assert state.current == Progress() and state.pending == () and state.stage is None


def test_the_cache_parses_once_per_stored_text() -> None:
    cache = StateCache(ContactState.from_dict)
    first = cache.parse("c1", PYDANTIC_CONTACT)
    assert cache.parse("c1", PYDANTIC_CONTACT) is first
    changed = PYDANTIC_CONTACT.replace('"score":24.805307', '"score":1.0')
    assert cache.parse("c1", changed).score == 1.0
