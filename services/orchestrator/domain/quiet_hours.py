"""Send windows in a local time zone: ``contains`` and ``next_open`` (pure, DST-correct).

A window is a set of weekdays and a local ``[start, end)`` time range. ``next_open`` returns the
earliest instant >= ``now`` inside the window: at a spring-forward gap that swallows ``start`` it
is the transition itself (the first existing local time after ``start``); at an ambiguous
fall-back ``start`` it is the first occurrence.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator

_ALL_DAYS = frozenset(range(7))
_RESOLUTION = timedelta(seconds=1)


class SendWindow(BaseModel):
    """Weekdays (0 = Monday) and local hours ``[start, end)`` in which a touch may go out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: frozenset[int] = Field(default=_ALL_DAYS, min_length=1)
    start: time = time(0, 0)
    end: time | None = Field(default=None, description="exclusive; None: until midnight")

    @model_validator(mode="after")
    def _check(self) -> SendWindow:
        if any(d not in _ALL_DAYS for d in self.days):
            raise ValueError("days are 0 (Monday) .. 6 (Sunday)")
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start (windows do not span midnight)")
        return self

    def contains(self, now: datetime, tz: ZoneInfo) -> bool:
        local = now.astimezone(tz)
        wall = local.time()  # naive (``time()``, not ``timetz()``)
        if local.weekday() not in self.days or wall < self.start:
            return False
        return self.end is None or wall < self.end

    def next_open(self, now: datetime, tz: ZoneInfo) -> datetime:
        """The earliest instant >= ``now`` inside the window (``now`` itself if open)."""
        if self.contains(now, tz):
            return now
        today = now.astimezone(tz).date()
        for offset in range(9):
            day = today + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            opening = self._opening(day, tz)
            if opening is not None and opening >= now:
                return opening
        raise AssertionError("unreachable: a non-empty weekly window opens within 9 days")

    def _opening(self, day: date, tz: ZoneInfo) -> datetime | None:
        naive = datetime.combine(day, self.start)
        first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
        second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
        if second < first:
            first, second = second, first
        if self.contains(first, tz):
            return first  # exists (or ambiguous: the first occurrence)
        if not self.contains(second, tz):
            return None  # the whole window fell into a gap that day
        lo, hi = first, second  # ``start`` does not exist: find the transition
        while hi - lo > _RESOLUTION:
            mid = lo + (hi - lo) / 2
            lo, hi = (lo, mid) if self.contains(mid, tz) else (mid, hi)
        return hi


class Openings:
    """``next_open`` memoised over one planning pass: the contacts of a batch share a few zones,
    windows and instants (the batch's ``now`` plus the same delays), so most are asked before.
    ``next_open`` depends on the instant only (not on how ``now`` is written): an open window
    answers with the ``now`` it is given, as ``SendWindow.next_open`` does."""

    __slots__ = ("_known",)

    def __init__(self) -> None:
        # (window id, zone, instant in UTC) -> (the window, kept alive for its id; the opening,
        # None when ``now`` is inside)
        self._known: dict[tuple[int, tzinfo, datetime], tuple[SendWindow, datetime | None]] = {}

    def next_open(self, window: SendWindow, now: datetime, tz: ZoneInfo) -> datetime:
        if now.utcoffset() is None:  # a naive ``now`` is read in the machine's zone: not memoised
            return window.next_open(now, tz)
        key = (id(window), tz, now.astimezone(UTC))
        known = self._known.get(key)
        if known is None:
            opening = window.next_open(now, tz)
            known = self._known[key] = (window, None if opening is now else opening)
        return now if known[1] is None else known[1]


def resolve_timezone(
    contact_tz: str | None,
    account_region: str | None,
    region_timezones: Mapping[str, str],
    default: str,
) -> ZoneInfo:
    """The contact's zone (trait), else the account region's, else ``default``."""
    candidates = (contact_tz, region_timezones.get(account_region or ""), default)
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                continue
    return ZoneInfo("UTC")
