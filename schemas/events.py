"""The engagement event envelope published to ``trellis.engagement.v1``.

Attribute names follow CloudEvents where they fit (``id``, ``type``, ``source``, ``time``).
The typed vocabulary of B2B event types refines ``type`` and ``properties``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from schemas.base import NO_CONTROL_PATTERN, AwareDatetime, Email, WireModel

MAX_ID_LENGTH = 200


class ContactRef(WireModel):
    """Who did it: external id and/or email (or only an anonymous id, merged on identify)."""

    external_id: str | None = Field(
        default=None, max_length=MAX_ID_LENGTH, pattern=NO_CONTROL_PATTERN
    )
    email: Email | None = None
    anonymous_id: str | None = Field(
        default=None, max_length=MAX_ID_LENGTH, pattern=NO_CONTROL_PATTERN
    )
    traits: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _identifiable(self) -> ContactRef:
        if not (self.external_id or self.email or self.anonymous_id):
            raise ValueError("contact needs external_id, email or anonymous_id")
        return self


_HOSTNAME = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$")


def domain_from_traits(traits: dict[str, Any]) -> str | None:
    """The company's domain as Segment's ``group`` traits give it: ``domain``, else the host of
    ``website`` (``https://www.acme.example/about`` -> ``acme.example``); None if neither is a
    plain host name."""
    for name in ("domain", "website"):
        value = traits.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        text = value.strip().lower()
        host = urlsplit(text if "//" in text else "//" + text).hostname or ""
        host = host.removeprefix("www.")
        if _HOSTNAME.match(host):
            return host
    return None


class AccountRef(WireModel):
    """Which company: external id and/or domain. Without a domain, the traits' ``domain`` or
    ``website`` gives it (Segment's reserved ``group`` traits, the same for every producer), so
    a company named once by a group call is found again by its domain."""

    external_id: str | None = Field(
        default=None, max_length=MAX_ID_LENGTH, pattern=NO_CONTROL_PATTERN
    )
    domain: str | None = Field(default=None, max_length=253, pattern=NO_CONTROL_PATTERN)
    traits: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _domain_from_traits(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("domain"):
            traits = data.get("traits")
            domain = domain_from_traits(traits) if isinstance(traits, dict) else None
            if domain is not None:
                return {**data, "domain": domain}
        return data

    @model_validator(mode="after")
    def _identifiable(self) -> AccountRef:
        if not (self.external_id or self.domain):
            raise ValueError("account needs external_id or domain")
        return self


class EngagementEvent(WireModel):
    """One engagement, as every consumer sees it."""

    id: str = Field(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        pattern=NO_CONTROL_PATTERN,
        description="Stable id; dedup key.",
    )
    type: str = Field(min_length=1, max_length=100, pattern=NO_CONTROL_PATTERN)
    source: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL_PATTERN)
    time: AwareDatetime = Field(description="When it happened (occurred_at).")
    received_at: AwareDatetime | None = None
    received_from: str | None = Field(
        default=None,
        max_length=200,
        description="The authenticated source (name) it came through; stamped by ingest, "
        "whatever a producer wrote.",
    )
    contact: ContactRef
    account: AccountRef | None = None
    properties: dict[str, Any] = Field(default_factory=dict)

    def partition_key(self) -> str:
        """Account id, else contact id: keeps one account's events in order on one partition."""
        if self.account is not None:
            return "a:" + (self.account.external_id or self.account.domain or "")
        c = self.contact
        return "c:" + (c.external_id or (str(c.email) if c.email else None) or c.anonymous_id or "")
