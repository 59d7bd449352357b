"""Segments the KPIs are split by (pure): industry, region, size band, source, owner rep.

Industry, region and size come from the account's traits (size bands from ``employees``);
source from the contact's traits (else the account's); owner rep from the contact's owner (else
the account's). A subject with no value is in the segment ``unknown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

UNKNOWN = "unknown"
SIZE_BANDS: tuple[tuple[int, str], ...] = (
    (50, "1-49"), (200, "50-199"), (1000, "200-999"), (5000, "1000-4999"),
)  # fmt: skip
LARGEST_BAND = "5000+"


class Segment(StrEnum):
    INDUSTRY = "industry"
    REGION = "region"
    SIZE_BAND = "size_band"
    SOURCE = "source"
    OWNER_REP = "owner_rep"


def size_band(employees: object) -> str:
    """The band of an employee count (``unknown`` when not a non-negative number)."""
    if isinstance(employees, bool) or not isinstance(employees, int | float) or employees < 0:
        return UNKNOWN
    return next((band for top, band in SIZE_BANDS if employees < top), LARGEST_BAND)


def _text(value: object) -> str:
    text = "" if value is None else str(value).strip()
    return text or UNKNOWN


def segment_value(
    segment: Segment,
    account_traits: Mapping[str, Any] | None,
    contact_traits: Mapping[str, Any] | None = None,
    owner_rep: str | None = None,
) -> str:
    """The segment a contact (with its account) or an account (no contact traits) falls in."""
    firm, person = account_traits or {}, contact_traits or {}
    if segment is Segment.INDUSTRY:
        return _text(firm.get("industry"))
    if segment is Segment.REGION:
        return _text(firm.get("region"))
    if segment is Segment.SIZE_BAND:
        return size_band(firm.get("employees"))
    if segment is Segment.SOURCE:
        return _text(person.get("source") or firm.get("source"))
    return _text(owner_rep)
