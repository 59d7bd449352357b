"""The documented vocabulary of B2B engagement event types: which types exist, how a producer's
``properties`` are checked, and which kind of source may assert which type.

The properties models themselves are in ``schemas.event_properties``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Any

from schemas.event_properties import Properties

__all__ = [
    "KNOWN_TYPES",
    "MAY_ASSERT",
    "Properties",
    "SourceKind",
    "UnknownEventType",
    "kinds_allowed",
    "kinds_table",
    "may_assert",
    "validate_properties",
]

_MODELS: dict[str, type[Properties]] = {
    model.model_fields["type"].default: model
    for model in Properties.__subclasses__()
    if "type" in model.model_fields
}
_NOT_SERIALISED: set[str] = {"type"}

KNOWN_TYPES: tuple[str, ...] = tuple(sorted(_MODELS))


class UnknownEventType(ValueError):
    def __init__(self, event_type: str, known: Collection[str]) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type
        self.known = sorted(known)


def validate_properties(
    event_type: str, properties: dict[str, Any], custom_types: Collection[str] = ()
) -> dict[str, Any]:
    """Validated, normalised properties for a known type; custom types pass unchanged.

    Raises ``UnknownEventType`` for an undeclared type, ``pydantic.ValidationError`` for bad
    properties (its locations are relative to ``properties``).
    """
    if event_type in custom_types and event_type not in KNOWN_TYPES:
        return properties
    if event_type not in KNOWN_TYPES:
        raise UnknownEventType(event_type, [*KNOWN_TYPES, *custom_types])
    # The type's own model, not the discriminated union (same checks, ~25% less CPU per event,
    # measured); ``properties.type`` is reserved: a different value fails the model's literal.
    model = _MODELS[event_type]
    validated = model.model_validate(properties)
    dumped: dict[str, Any] = model.__pydantic_serializer__.to_python(
        validated, mode="json", exclude=_NOT_SERIALISED, exclude_none=True
    )
    return dumped


class SourceKind(StrEnum):
    """What a source may assert. Producers are not equally trusted: an SDK key sits in web
    pages (anyone can read it), so it may only report behaviour; facts that change consent,
    ownership or deals come from the systems that own them."""

    SDK = "sdk"
    SERVER = "server"
    CRM = "crm"
    CONSENT = "consent"
    PROVIDER = "provider"
    """An email provider's delivery callbacks (``POST /v1/email/status``): no engagement events."""


_IDENTITY = frozenset({"contact_identified", "account_linked"})
_BEHAVIOUR = _IDENTITY | {
    "page_viewed", "content_downloaded", "webinar_registered", "webinar_attended",
    "email_opened", "email_clicked", "form_submitted", "demo_requested",
    "contact_sales_requested", "product_activated", "usage_milestone", "nps_submitted",
}  # fmt: skip
_PRODUCT_FACTS = frozenset(
    {"seats_changed", "subscription_cancelled", "support_ticket_opened", "meeting_booked"}
)
_CRM_FACTS = frozenset(
    {
        "crm_lead_status_changed", "crm_owner_changed", "deal_created", "deal_stage_changed",
        "deal_closed_won", "deal_closed_lost", "meeting_booked",
    }
)  # fmt: skip
_CONSENT_FACTS = frozenset({"consent_given", "consent_withdrawn"})

MAY_ASSERT: Mapping[SourceKind, frozenset[str]] = {
    SourceKind.SDK: _BEHAVIOUR,
    SourceKind.SERVER: _BEHAVIOUR | _PRODUCT_FACTS,
    SourceKind.CRM: _IDENTITY | _CRM_FACTS,
    SourceKind.CONSENT: _IDENTITY | _CONSENT_FACTS,
    SourceKind.PROVIDER: frozenset(),
}
"""The one table of who may say what: source kind -> the event types it may assert. Custom
event types (``TRELLIS_INGEST_CUSTOM_EVENT_TYPES``) count as behaviour (``sdk``, ``server``)."""

_CUSTOM_KINDS = frozenset({SourceKind.SDK, SourceKind.SERVER})


def kinds_allowed(event_type: str) -> frozenset[SourceKind]:
    """The kinds that may assert ``event_type`` (a custom type: the behavioural kinds)."""
    if event_type not in KNOWN_TYPES:
        return _CUSTOM_KINDS
    return frozenset(k for k, types in MAY_ASSERT.items() if event_type in types)


def may_assert(kind: SourceKind, event_type: str) -> bool:
    return kind in kinds_allowed(event_type)


def kinds_table() -> list[tuple[str, list[str]]]:
    """(kinds allowed, event types) rows, types with the same kinds together, for
    ``trellis sources add --help`` and the README."""
    rows: dict[str, list[str]] = {}
    for t in KNOWN_TYPES:
        kinds = ", ".join(k.value for k in SourceKind if k in kinds_allowed(t))
        rows.setdefault(kinds, []).append(t)
    return sorted(rows.items(), key=lambda row: (-len(row[1]), row[0]))
