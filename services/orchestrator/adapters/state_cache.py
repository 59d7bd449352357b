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
    return encode_account(state).decode()


def encode_account(state: AccountState) -> bytes:
    """An account's fields as a JSON object, the bytes orjson writes for the dataclass itself,
    from plain dicts: orjson's dataclass path took 15 us for an account of five stakeholders
    here, the same object from dicts 2 us (``tests/unit/test_state_cache.py`` holds them equal)."""
    members = {
        k: {"stage": m.stage, "score": m.score, "role": m.role} for k, m in state.members.items()
    }
    return orjson.dumps(
        {
            "key": state.key, "members": members, "stage": state.stage,
            "stage_entered_at": state.stage_entered_at, "score": state.score,
            "coverage": state.coverage,
        },
        option=orjson.OPT_UTC_Z,
    )  # fmt: skip


ENTRY_BYTES = 1024
"""Memory a cached entry takes besides its text (key, LRU slot, the parsed objects' headers)."""
PER_CHAR = 4.5
"""Memory per character of stored text: the text itself plus its parsed state. Measured with
``tracemalloc`` on the orchestrator bench's states (600-2,000 characters): 3.6-9.9 KB an entry,
within 10% of this estimate (``tests/unit/test_state_cache.py`` holds it to 35%)."""


def entry_bytes(text: str) -> int:
    """The estimated memory of one cached entry parsed from ``text``."""
    return ENTRY_BYTES + int(PER_CHAR * len(text))


class StateCache(Generic[S]):
    """Parsed states by id, reused only while the stored JSON text is exactly the text they were
    parsed from (or saved as): the database stays the truth, a stale or rolled-back entry is a
    miss. States are frozen and never mutated, so sharing them is safe. An LRU bounded by
    ``budget`` bytes of estimated memory (``entry_bytes``), not by a count: at 1M known contacts
    a count that fit one machine's memory is either a near-zero hit rate or an out-of-memory
    kill on another."""

    def __init__(self, read: Callable[[Any], S], budget: int = 256 << 20) -> None:
        self.read = read
        self.budget = budget
        self.bytes = 0  # estimated, over the entries held
        self._items: OrderedDict[str, tuple[str, S]] = OrderedDict()
        self.hits = self.misses = 0  # read by the orchestrator's /metrics at scrape time

    def __len__(self) -> int:
        return len(self._items)

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
        was = items.get(key)
        if was is not None:  # a new key is set at the end already
            items.move_to_end(key)
            self.bytes -= entry_bytes(was[0])
        items[key] = (text, state)
        self.bytes += entry_bytes(text)
        while self.bytes > self.budget and items:
            _, (old, _) = items.popitem(last=False)
            self.bytes -= entry_bytes(old)


CONTACTS_SHARE = 0.85
"""Of a cache budget, what contacts' states get (an account's state is one per several people)."""


class StateCaches:
    def __init__(self, budget: int = 256 << 20) -> None:
        """``budget``: bytes for both caches (``OrchestratorSettings.state_cache_bytes``)."""
        contacts = int(budget * CONTACTS_SHARE)
        self.contacts = StateCache(read_contact, contacts)  # either stored form
        self.accounts = StateCache(AccountState.from_dict, budget - contacts)
