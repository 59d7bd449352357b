"""Common base for wire models: strict about unknown fields, aware datetimes only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


def _require_tz(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must include a time zone offset (e.g. 'Z' or '+02:00')")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_require_tz)]


class WireModel(BaseModel):
    """Frozen, strict about unknown fields: a typo in a producer is an error, not data loss."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
