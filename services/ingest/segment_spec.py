"""The Segment Spec's named events, mapped onto our vocabulary.

Segment documents event names and their properties per domain (B2B SaaS, Email, E-commerce,
...; https://segment.com/docs/connections/spec/). A spec event that means one of our types is
translated to it, its documented properties renamed to ours (``link_url`` -> ``url``); any other
track name keeps the general rule: the name in snake case (``"Demo Requested"`` ->
``demo_requested``), which must then be a vocabulary or declared custom type.
docs/producers.md prints this table; a test walks every row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SpecEvent:
    """One Segment Spec event: our type, property renames (theirs -> ours) and fixed values."""

    type: str
    renames: Mapping[str, str] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    spec: str = ""


_EMAIL = {"email_id": "message_id"}

SPEC_EVENTS: Mapping[str, SpecEvent] = {
    # Email spec
    "Email Opened": SpecEvent("email_opened", _EMAIL, spec="email"),
    "Email Link Clicked": SpecEvent("email_clicked", {**_EMAIL, "link_url": "url"}, spec="email"),
    "Unsubscribed": SpecEvent(
        "consent_withdrawn", {}, {"channel": "email", "method": "segment_unsubscribed"}, "email"
    ),
    # B2B SaaS spec
    "Account Created": SpecEvent("account_linked", spec="b2b-saas"),
    "Account Added User": SpecEvent("account_linked", spec="b2b-saas"),
    "Trial Started": SpecEvent("product_activated", {"trial_plan_name": "plan"}, spec="b2b-saas"),
    # E-commerce spec
    "Product Viewed": SpecEvent("page_viewed", {"name": "title"}, spec="ecommerce"),
    "Order Completed": SpecEvent(
        "deal_closed_won", {"order_id": "deal_id", "total": "amount"}, spec="ecommerce"
    ),
}
"""Spec event name -> our type. Spec events not listed have no type of ours (``Email
Delivered``/``Bounced`` are provider outcomes, ``Signed In`` is not engagement): they follow the
general snake-case rule like any other name."""


def spec_properties(spec: SpecEvent, properties: Mapping[str, Any]) -> dict[str, Any]:
    """The call's properties in our names; ours win when a producer sent both spellings."""
    out = {k: v for k, v in properties.items() if k not in spec.renames}
    for theirs, ours in spec.renames.items():
        if theirs in properties:
            out.setdefault(ours, properties[theirs])
    return {**out, **spec.fixed}
