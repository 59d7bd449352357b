"""What a timestamp, an identifier or a nested value may be before we accept it (pure).

Everything accepted with a 2xx must be storable and applicable downstream: a year-9999 time
overflows when normalised to UTC, a NUL byte is refused by PostgreSQL's text type, and a
1,000-level object exhausts the recursion limit of every JSON encoder on the way. These checks
run at the door (ingest, ops API) so that nothing acknowledged stalls a consumer later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""Default lower bound of an event's time: nothing we nurture on happened before this."""
MAX_AHEAD = timedelta(days=1)
"""Default tolerance for clocks running ahead: an event may be at most this far in the future."""
MAX_DEPTH = 32
"""Deepest nesting of objects and lists accepted inside an event (properties, traits)."""
MAX_TRAIT_BYTES = 8 * 1024
"""Largest single trait or property value (as JSON text) accepted."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """The times accepted: ``earliest <= t <= now + ahead``, compared in UTC."""

    earliest: datetime = EARLIEST
    ahead: timedelta = MAX_AHEAD

    def problem(self, value: datetime, now: datetime) -> str | None:
        """Why ``value`` is implausible, or None. Never raises (an aware time near
        ``datetime.max`` overflows when converted to UTC: that is implausible too)."""
        try:
            utc = value.astimezone(UTC)
        except (OverflowError, ValueError):
            return "time is outside the representable range"
        if utc < self.earliest:
            return f"time is before {self.earliest.isoformat()}"
        if utc > now + self.ahead:
            return f"time is more than {_human(self.ahead)} in the future"
        return None


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86_400 == 0:
        days = seconds // 86_400
        return f"{days} day" + ("s" if days != 1 else "")
    return f"{seconds} s"


def has_control_characters(value: str) -> bool:
    """NUL and the other C0 controls (and DEL): never part of an id, an email or a phone."""
    return _CONTROL.search(value) is not None


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a JSON value, counting stops past ``limit`` (no recursion: a hostile
    value cannot exhaust the stack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((child, level) for child in children)
    return deepest
