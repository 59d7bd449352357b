"""Parsed lifecycle states kept between batches, and the JSON text states are stored as: a
contact's in the compact positional form of ``state_codec`` (issue 15), an account's as an
object."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import orjson

from services.orchestrator.adapters.state_codec import encode_contact, read_contact
from services.orchestrator.domain.state import AccountState, ContactState

S = TypeVar("S")


def state_json(state: ContactState | AccountState) -> str:
    """The stored text of a state (UTC times end in ``Z``): a contact's in the compact positional
    form (``state_codec.encode_contact``), an account's fields as a JSON object."""
    if isinstance(state, ContactState):
        return encode_contact(state).decode()
    return orjson.dumps(state, option=orjson.OPT_UTC_Z).decode()


class StateCache(Generic[S]):
    """Parsed states by id, reused only while the stored JSON text is exactly the text they were
    parsed from (or saved as): the database stays the truth, a stale or rolled-back entry is a
    miss. States are frozen and never mutated, so sharing them is safe. Bounded LRU."""

    def __init__(self, read: Callable[[Any], S], size: int = 50_000) -> None:
        self.read = read
        self.size = size
        self._items: OrderedDict[str, tuple[str, S]] = OrderedDict()
        self.hits = self.misses = 0  # read by the orchestrator's /metrics at scrape time

    def parse(self, key: str, text: str) -> S:
        hit = self._items.get(key)
        if hit is not None and hit[0] == text:
            self._items.move_to_end(key)
            self.hits += 1
            return hit[1]
        self.misses += 1
        state = self.read(orjson.loads(text))
        self.put(key, text, state)
        return state

    def put(self, key: str, text: str, state: S) -> None:
        items = self._items
        if key in items:  # a new key is set at the end already
            items.move_to_end(key)
        items[key] = (text, state)
        while len(items) > self.size:
            items.popitem(last=False)


class StateCaches:
    def __init__(self, size: int = 50_000) -> None:
        self.contacts = StateCache(read_contact, size)  # either stored form
        self.accounts = StateCache(AccountState.from_dict, size)
