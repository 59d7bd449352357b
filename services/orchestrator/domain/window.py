"""A contact's lateness window as read from storage: its events decoded only when read.

An in-order batch reads nothing of the window but its newest event and the few leaving it at
the front, then appends to it; the window is needed whole only when a late event makes the
contact replay it (or a merge moves it). So a stored window stays in its stored items until an
item is read, and the encoder writes the items nobody read back as they came (issue 15, item 1:
no re-decoding or re-encoding of the window per batch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import overload

from services.orchestrator.domain.engagement import Engagement


class Window(Sequence[Engagement]):
    """Events in replay order; each slot an ``Engagement`` or a stored item ``read`` decodes on
    first access (then kept). Equal to any sequence of the same events; immutable to readers."""

    __slots__ = ("_read", "_slots", "context")

    def __init__(
        self, slots: Iterable[object], read: Callable[[object], Engagement], context: object = None
    ) -> None:
        self._slots = list(slots)
        self._read = read
        self.context = context  # what the stored items are relative to (the codec's business)

    def __len__(self) -> int:
        return len(self._slots)

    @overload
    def __getitem__(self, index: int) -> Engagement: ...

    @overload
    def __getitem__(self, index: slice) -> Window: ...

    def __getitem__(self, index: int | slice) -> Engagement | Window:
        if isinstance(index, slice):
            return Window(self._slots[index], self._read, self.context)
        slot = self._slots[index]
        if isinstance(slot, Engagement):
            return slot
        event = self._read(slot)
        self._slots[index] = event
        return event

    def __iter__(self) -> Iterator[Engagement]:
        for i in range(len(self._slots)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Window({list(self)!r})"

    def appended(self, events: Sequence[Engagement]) -> Window:
        """This window with ``events`` (all newer) after it; nothing of it is decoded."""
        return Window([*self._slots, *events], self._read, self.context)

    def stored(self) -> list[object]:
        """The slots as they are: stored items nobody read, and events."""
        return list(self._slots)


def appended(window: Sequence[Engagement], events: Sequence[Engagement]) -> Sequence[Engagement]:
    """``window`` then ``events``, without decoding a stored window."""
    if isinstance(window, Window):
        return window.appended(events)
    return (*window, *events)


def rest(window: Sequence[Engagement], start: int) -> Sequence[Engagement]:
    """The window from ``start`` on, a stored window kept stored."""
    return window[start:] if isinstance(window, Window) else tuple(window[start:])
