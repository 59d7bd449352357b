"""Segment as its authors write it: page and screen calls with ``name``/``category`` and
``context.page``, the Segment Spec's named events by their table, group traits to the account."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.ingest.segment import SegmentCall, translate, with_batch_context
from services.ingest.segment_spec import SPEC_EVENTS
from services.ingest.validation import InvalidEvents, check_vocabulary
from trellis.sources import Source, SourceKind

SOURCE = Source("s-1", "web", SourceKind.SDK, False, None)
RECEIVED = datetime(2026, 11, 23, 12, tzinfo=UTC)
PRODUCERS_DOC = Path(__file__).parents[2] / "docs" / "producers.md"

# Properties as the Segment Spec pages document them for each event
# (https://segment.com/docs/connections/spec/{email,b2b-saas,ecommerce/v2}/).
SPEC_EXAMPLES: dict[str, dict[str, Any]] = {
    "Email Opened": {"email_id": "18vzF7u6", "email_subject": "Welcome", "campaign_id": "123"},
    "Email Link Clicked": {
        "email_id": "18vzF7u6",
        "email_subject": "Welcome",
        "campaign_id": "123",
        "link_id": "507f1f77",
        "link_url": "https://segment.com/docs",
    },
    "Unsubscribed": {"list_id": "list-1", "list_name": "Newsletter"},
    "Account Created": {"account_name": "Acme"},
    "Account Added User": {"role": "Owner"},
    "Trial Started": {"trial_start_date": "2026-11-01", "trial_plan_name": "Pro"},
    "Product Viewed": {"product_id": "507f1f", "name": "Monopoly: 3rd Edition", "price": 18.99},
    "Order Completed": {"order_id": "50314b8e", "total": 27.5, "currency": "USD"},
}
EXPECTED_PROPERTIES: dict[str, dict[str, Any]] = {
    "Email Opened": {"message_id": "18vzF7u6", "campaign_id": "123"},
    "Email Link Clicked": {"url": "https://segment.com/docs", "message_id": "18vzF7u6"},
    "Unsubscribed": {"channel": "email", "method": "segment_unsubscribed"},
    "Account Created": {"account_name": "Acme"},
    "Account Added User": {"role": "Owner"},
    "Trial Started": {"plan": "Pro"},
    "Product Viewed": {"title": "Monopoly: 3rd Edition"},
    "Order Completed": {"deal_id": "50314b8e", "amount": 27.5, "currency": "USD"},
}


def _event(call: dict[str, Any]) -> Any:
    event = translate(SegmentCall.model_validate(call), SOURCE, RECEIVED)
    return check_vocabulary([event], [("body",)], ())[0]


def test_the_examples_cover_every_row_of_the_spec_table() -> None:
    assert set(SPEC_EXAMPLES) == set(SPEC_EVENTS) == set(EXPECTED_PROPERTIES)


@pytest.mark.parametrize("name", sorted(SPEC_EVENTS))
def test_a_spec_event_maps_to_its_vocabulary_type_with_our_property_names(name: str) -> None:
    event = _event(
        {"type": "track", "userId": "u-1", "event": name, "properties": SPEC_EXAMPLES[name],
         "context": {"groupId": "acme"}}
    )  # fmt: skip
    assert event.type == SPEC_EVENTS[name].type
    assert EXPECTED_PROPERTIES[name].items() <= event.properties.items()


@pytest.mark.parametrize("name", sorted(SPEC_EVENTS))
def test_the_producers_page_documents_every_row_of_the_spec_table(name: str) -> None:
    rows = re.findall(r"^\| `([^`]+)` \| `([a-z_]+)` \|", PRODUCERS_DOC.read_text(), re.M)
    assert (name, SPEC_EVENTS[name].type) in rows


def test_a_track_name_outside_the_spec_table_is_still_its_snake_case() -> None:
    assert _event({"type": "track", "userId": "u", "event": "Demo Requested"}).type == (
        "demo_requested"
    )
    with pytest.raises(InvalidEvents) as unknown:
        _event({"type": "track", "userId": "u", "event": "Email Delivered"})
    assert unknown.value.errors[0]["type"] == "unknown_event_type"


def test_a_server_side_page_call_with_only_a_name_is_a_page_view_titled_by_it() -> None:
    # the Segment HTTP API docs' own example: no url, no path
    event = _event(
        {"type": "page", "userId": "019mr8mf4r", "name": "Tracking HTTP API",
         "timestamp": "2012-12-02T00:30:12.984Z"}
    )  # fmt: skip
    assert event.type == "page_viewed"
    assert event.properties["title"] == "Tracking HTTP API"
    assert event.properties["name"] == "Tracking HTTP API"
    assert event.time == datetime(2012, 12, 2, 0, 30, 12, 984000, tzinfo=UTC)


def test_a_page_call_takes_context_page_and_its_own_properties_win() -> None:
    event = _event(
        {"type": "page", "anonymousId": "a-1", "name": "Pricing", "category": "Docs",
         "properties": {"title": "Plans and pricing"},
         "context": {"page": {"url": "https://acme.example/pricing?x=1", "path": "/pricing",
                              "referrer": "https://google.com/", "title": "Pricing | Acme",
                              "search": "?x=1", "unrelated": "ignored"}}}
    )  # fmt: skip
    assert event.properties == {
        "url": "https://acme.example/pricing?x=1", "path": "/pricing",
        "referrer": "https://google.com/", "title": "Plans and pricing", "search": "?x=1",
        "name": "Pricing", "category": "Docs", "is_pricing": True,
    }  # fmt: skip


def test_a_screen_call_is_a_page_view_named_by_the_screen() -> None:
    event = _event({"type": "screen", "userId": "u-9", "name": "Dashboard", "category": "App"})
    assert event.type == "page_viewed"
    assert (event.properties["title"], event.properties["category"]) == ("Dashboard", "App")


def test_a_page_call_without_url_path_or_name_is_still_refused() -> None:
    with pytest.raises(InvalidEvents) as refused:
        _event({"type": "page", "userId": "u"})
    assert refused.value.errors[0]["msg"].endswith("page_viewed needs url, path or title")


@pytest.mark.parametrize(
    ("traits", "domain"),
    [
        ({"name": "Acme", "domain": "acme.example", "employees": 500}, "acme.example"),
        ({"name": "Acme", "website": "https://www.Acme.example/about"}, "acme.example"),
        ({"website": "acme.example"}, "acme.example"),
        ({"website": "not a web site"}, None),
        ({"name": "Acme"}, None),
    ],
)
def test_group_reserved_traits_name_the_account_and_its_domain(
    traits: dict[str, Any], domain: str | None
) -> None:
    event = _event({"type": "group", "userId": "u", "groupId": "acme", "traits": traits})
    assert event.type == "account_linked"
    assert event.account is not None
    assert (event.account.external_id, event.account.domain) == ("acme", domain)
    assert event.account.traits == traits


def test_a_batch_context_reaches_every_call_and_a_calls_own_context_wins() -> None:
    shared = {"groupId": "acme", "device": {"type": "phone", "name": "Apple iPhone 6"}}
    items = with_batch_context(
        [{"type": "track", "userId": "u", "event": "Demo Requested"},
         {"type": "track", "userId": "u", "event": "Demo Requested",
          "context": {"groupId": "bolt"}},
         "not a call"],
        shared,
    )  # fmt: skip
    first, second = (_event(i) for i in items[:2])
    assert first.account is not None and first.account.external_id == "acme"
    assert second.account is not None and second.account.external_id == "bolt"
    assert items[1]["context"]["device"]["name"] == "Apple iPhone 6"
    assert items[2] == "not a call", "left for validation to refuse where it is"
