"""The parsed-state cache bounded by memory: its estimate of an entry against what tracemalloc
measures, eviction by bytes in LRU order, and the budget read from a container's limit; an
account's stored text as orjson writes its dataclass."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.state_codec import states
from services.orchestrator.adapters.state_cache import (
    StateCache,
    StateCaches,
    encode_account,
    entry_bytes,
    state_json,
)
from services.orchestrator.adapters.state_codec import read_contact
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.state import AccountState, Member
from services.orchestrator.settings import OrchestratorSettings
from trellis.memory import memory_limit


@pytest.mark.parametrize("events", [600, 2_000, 8_000])
def test_an_entrys_estimate_is_within_a_third_of_what_it_takes(events: int) -> None:
    texts = [state_json(s) for s in states(events, 400)]
    keys = [f"ext:u-{i}" for i in range(len(texts))]
    cache = StateCache(read_contact, 1 << 40)
    gc.collect()
    tracemalloc.start()
    try:
        for k, t in zip(keys, texts, strict=True):
            cache.parse(k, t)
        parsed = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    measured = parsed + sum(len(t) + 49 + len(k) + 49 for k, t in zip(keys, texts, strict=True))
    assert 0.65 < cache.bytes / measured < 1.35
    assert cache.bytes == sum(entry_bytes(t) for t in texts)


def test_entries_leave_oldest_used_first_once_over_the_budget() -> None:
    cache: StateCache[object] = StateCache(lambda d: d, budget=3 * entry_bytes("[1]"))
    for key in ("a", "b", "c"):
        cache.parse(key, "[1]")
    assert len(cache) == 3
    cache.parse("a", "[1]")  # a hit: "a" is the newest now
    cache.parse("d", "[1]")
    assert cache.parse("a", "[1]") == [1] and cache.hits == 2
    assert len(cache) == 3 and cache.bytes == 3 * entry_bytes("[1]")
    misses = cache.misses
    cache.parse("b", "[1]")  # "b" was the oldest used: it had left
    assert cache.misses == misses + 1


def test_a_replaced_entry_is_counted_once_at_its_new_size() -> None:
    cache: StateCache[object] = StateCache(lambda d: d, budget=1 << 20)
    cache.put("a", "[1]", [1])
    cache.put("a", "[1,2,3,4]", [1, 2, 3, 4])
    assert len(cache) == 1 and cache.bytes == entry_bytes("[1,2,3,4]")


def test_a_budget_smaller_than_an_entry_keeps_nothing() -> None:
    cache: StateCache[object] = StateCache(lambda d: d, budget=0)
    assert cache.parse("a", "[1]") == [1]
    assert len(cache) == 0 and cache.bytes == 0
    cache.parse("a", "[1]")
    assert cache.misses == 2


def test_the_budget_splits_between_contacts_and_accounts() -> None:
    caches = StateCaches(1000)
    assert caches.contacts.budget == 850 and caches.accounts.budget == 150


def test_the_memory_limit_is_the_containers_when_it_has_one(tmp_path: Path) -> None:
    physical = memory_limit(tmp_path / "none")
    assert physical > 0
    (tmp_path / "memory.max").write_text("max\n")  # cgroup v2, unlimited
    assert memory_limit(tmp_path) == physical
    (tmp_path / "memory.max").write_text(f"{physical // 2}\n")
    assert memory_limit(tmp_path) == physical // 2
    v1 = tmp_path / "v1"
    (v1 / "memory").mkdir(parents=True)
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # unlimited
    assert memory_limit(v1) == physical
    (v1 / "memory" / "memory.limit_in_bytes").write_text("536870912\n")
    assert memory_limit(v1) == 536870912


def test_the_settings_budget_is_a_quarter_of_the_memory_unless_set() -> None:
    assert OrchestratorSettings().state_cache_bytes() == memory_limit() // 4
    assert OrchestratorSettings(orchestrator_state_cache_mb=3).state_cache_bytes() == 3 << 20
    assert OrchestratorSettings(orchestrator_state_cache_mb=0).state_cache_bytes() == 0


_stages = st.none() | st.sampled_from(Stage)
_times = st.none() | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))]))
_members = st.builds(
    Member, stage=_stages, score=st.floats(allow_nan=False, allow_infinity=False),
    role=st.none() | st.text(max_size=12),
)  # fmt: skip


@given(
    key=st.text(max_size=20),
    members=st.dictionaries(st.text(max_size=10), _members, max_size=6),
    stage=_stages,
    entered=_times,
    score=st.floats(allow_nan=False, allow_infinity=False),
    coverage=st.lists(st.text(max_size=8), max_size=4).map(tuple),
)
def test_an_account_is_written_as_orjson_writes_its_dataclass(
    key: str,
    members: dict[str, Member],
    stage: Stage | None,
    entered: datetime | None,
    score: float,
    coverage: tuple[str, ...],
) -> None:
    state = AccountState(
        key=key, members=members, stage=stage, stage_entered_at=entered, score=score,
        coverage=coverage,
    )  # fmt: skip
    assert encode_account(state) == orjson.dumps(state, option=orjson.OPT_UTC_Z)
    assert AccountState.from_dict(orjson.loads(encode_account(state))) == state
