"""Common base for wire models: strict about unknown fields, aware datetimes only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints


def _require_tz(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must include a time zone offset (e.g. 'Z' or '+02:00')")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_require_tz)]

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f<>(),;:\\\"\[\]]+@" + _LABEL + r"(?:\." + _LABEL + r")+$"
NO_CONTROL_PATTERN = r"^[^\x00-\x1f\x7f]*$"
"""No NUL or other control character: PostgreSQL's text refuses NUL, and none belongs in an id."""


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=320, pattern=EMAIL_PATTERN),
]
"""An email address, lower-cased for identity matching. A structural check only: the
``email-validator`` package's full check costs ~8x the whole event's validation (measured), and
deliverability is the SMTP server's verdict anyway."""


class WireModel(BaseModel):
    """Frozen, strict about unknown fields: a typo in a producer is an error, not data loss."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
