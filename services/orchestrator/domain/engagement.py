"""The domain's view of one engagement, converted from the wire envelope."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from schemas.events import EngagementEvent


@dataclass(slots=True, frozen=True, kw_only=True)
class Engagement:
    """One event as the lifecycle sees it: what, when, who, and the traits known at that time.

    A plain frozen dataclass: built from an envelope pydantic has validated already (or from
    stored state), so nothing is validated again on the hot path.
    """

    event_id: str
    type: str
    occurred_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    contact_key: str
    account_key: str | None = None
    contact_traits: dict[str, Any] = field(default_factory=dict)
    account_traits: dict[str, Any] = field(default_factory=dict)

    @property
    def sort_key(self) -> tuple[datetime, str]:
        """Replay order: occurred_at, ties broken by event id (never by arrival)."""
        return (self.occurred_at, self.event_id)

    def model_copy(self, *, update: Mapping[str, Any]) -> Engagement:
        """A copy with some fields replaced (the name callers used when this was a pydantic
        model; ``dataclasses.replace`` is the same thing)."""
        return replace(self, **update)


def contact_key(event: EngagementEvent) -> str:
    """External id, else email, else anonymous id (identity merging happens in the adapter)."""
    c = event.contact
    if c.external_id:
        return "ext:" + c.external_id
    if c.email:
        return "email:" + str(c.email).lower()
    return "anon:" + (c.anonymous_id or "")


def account_key(event: EngagementEvent) -> str | None:
    a = event.account
    if a is None:
        return None
    return "ext:" + a.external_id if a.external_id else "domain:" + (a.domain or "").lower()


def derived_properties(type_: str, properties: dict[str, Any]) -> dict[str, Any]:
    """Facts the playbook matches on, derived like the vocabulary does (if ingest did not)."""
    props = dict(properties)
    if type_ == "page_viewed" and "is_pricing" not in props:
        where = str(props.get("path") or props.get("url") or "")
        props["is_pricing"] = "/pricing" in where.lower()
    seats, previous = props.get("seats"), props.get("previous_seats")
    if type_ == "seats_changed" and isinstance(seats, int) and isinstance(previous, int):
        props.setdefault("seats_added", seats - previous)
    return props


_ZONES: dict[timedelta, timezone] = {timedelta(0): UTC}


def plain_tz(when: datetime) -> datetime:
    """The same instant and offset with a ``datetime.timezone`` as its tzinfo.

    Envelope times carry pydantic's own tzinfo class, and comparing two of those costs a method
    call per operand (30x a comparison of two ``timezone.utc`` times); the domain compares times
    on every event (ordering, windows, decay). Naive times are left alone.
    """
    offset = when.utcoffset()
    if offset is None or type(when.tzinfo) is timezone:
        return when
    zone = _ZONES.get(offset)
    if zone is None:
        zone = _ZONES.setdefault(offset, timezone(offset))
    return when.replace(tzinfo=zone)


def to_engagement(
    event: EngagementEvent, contact: str | None = None, account: str | None = None
) -> Engagement:
    """``contact`` / ``account``: the resolved keys (else derived from the event's identifiers).
    The envelope is validated already: every value has its declared type."""
    return Engagement(
        event_id=event.id,
        type=event.type,
        occurred_at=plain_tz(event.time),
        properties=derived_properties(event.type, event.properties),
        contact_key=contact if contact is not None else contact_key(event),
        account_key=account if contact is not None else account_key(event),
        contact_traits=dict(event.contact.traits),
        account_traits=dict(event.account.traits) if event.account else {},
    )
