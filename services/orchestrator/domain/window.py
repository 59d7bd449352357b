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
    first access (then kept). Equal to any sequence of the same events; immutable to readers.
    A window the lifecycle built keeps the stored form of its events once written, so the
    window of a state kept in memory between batches is not encoded again either."""

    __slots__ = ("_read", "_slots", "context", "stored_forms")

    def __init__(
        self,
        slots: Iterable[object],
        read: Callable[[object], Engagement] | None = None,
        context: object = None,
        stored_forms: list[object] | None = None,
    ) -> None:
        self._slots = list(slots)
        self._read = read
        # The storage adapter's business: what stored forms are relative to, and each slot's
        # stored form once known (written once, the same for every state sharing this window).
        self.context = context
        self.stored_forms = stored_forms or [None] * len(self._slots)

    def __len__(self) -> int:
        return len(self._slots)

    @overload
    def __getitem__(self, index: int) -> Engagement: ...

    @overload
    def __getitem__(self, index: slice) -> Window: ...

    def __getitem__(self, index: int | slice) -> Engagement | Window:
        if isinstance(index, slice):
            forms = self.stored_forms[index]
            return Window(self._slots[index], self._read, self.context, forms)
        slot = self._slots[index]
        if isinstance(slot, Engagement):
            return slot
        assert self._read is not None, "a stored slot comes with its reader"
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
        forms = [*self.stored_forms, *[None] * len(events)]
        return Window([*self._slots, *events], self._read, self.context, forms)

    def stored(self) -> list[object]:
        """The slots as they are: stored items nobody read, and events."""
        return list(self._slots)


def appended(window: Sequence[Engagement], events: Sequence[Engagement]) -> Window:
    """``window`` then ``events``, without decoding a stored window."""
    if isinstance(window, Window):
        return window.appended(events)
    return Window([*window, *events])


def rest(window: Sequence[Engagement], start: int) -> Window:
    """The window from ``start`` on, a stored window kept stored (a window, so the stored forms
    of its events are kept for the next batch once written). From 0 a window is itself, not a
    copy: it is immutable to readers, and the encoder checks what its stored forms are
    relative to (``context``), so states may share it."""
    if isinstance(window, Window):
        return window if start == 0 else window[start:]
    return Window(window[start:] if start else window)
