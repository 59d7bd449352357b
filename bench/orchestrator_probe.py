"""What one orchestrator bench run costs besides its wall time: SQL statements per batch, CPU
of the orchestrator process and of the PostgreSQL server per event, and the state cache's hit
rate. Read from the outside (an engine event, ``/proc``, ``pg_stat_activity``) so the measured
code carries nothing for the bench.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import Figure

P = ParamSpec("P")
T = TypeVar("T")
_TICK = os.sysconf("SC_CLK_TCK")
_BACKGROUND = ("checkpointer", "background writer", "walwriter")


_IN_CALL: ContextVar[list[int] | None] = ContextVar("statements_in_call", default=None)


@dataclass
class StatementCounter:
    """Counts statements sent by every engine but ``ignored`` (the bench's own poller), and
    those each wrapped batch call sent (in its own context: batches running side by side, in
    lanes, are counted apart)."""

    ignored: set[int] = field(default_factory=set)
    total: int = 0
    rows_in_executemany: int = 0
    per_batch: list[int] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)

    def _seen(
        self, conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool
    ) -> None:
        if id(conn.engine) in self.ignored:
            return
        self.total += 1
        if many:
            self.rows_in_executemany += len(params)
        cell = _IN_CALL.get()
        if cell is not None:
            cell[0] += 1

    @contextmanager
    def installed(self) -> Iterator[StatementCounter]:
        event.listen(Engine, "before_cursor_execute", self._seen)
        try:
            yield self
        finally:
            event.remove(Engine, "before_cursor_execute", self._seen)

    def ignore(self, engine: AsyncEngine) -> None:
        self.ignored.add(id(engine.sync_engine))

    def per_call(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        """``fn`` with the statements each call sent appended to ``per_batch`` (and the length
        of its first argument, the batch, to ``batch_sizes``)."""

        async def counted(*args: P.args, **kwargs: P.kwargs) -> T:
            cell = [0]
            token = _IN_CALL.set(cell)
            try:
                return await fn(*args, **kwargs)
            finally:
                _IN_CALL.reset(token)
                self.per_batch.append(cell[0])
                if args and isinstance(args[0], Sized):
                    self.batch_sizes.append(len(args[0]))

        return counted

    def summary(self) -> dict[str, float]:
        runs = self.per_batch or [0]
        sizes = self.batch_sizes or [0]
        return {
            "median": statistics.median(runs),
            "max": max(runs),
            "batches": len(self.per_batch),
            "events_per_batch_median": statistics.median(sizes),
        }


def _cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def _background_pids() -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if cmd.startswith("postgres:") and any(b in cmd for b in _BACKGROUND):
                out.append(int(entry.name))
    return out


@dataclass
class ServerCpu:
    """CPU seconds of the PostgreSQL processes serving one database (its backends, found in
    ``pg_stat_activity``) plus the server's WAL writer, background writer and checkpointer.
    Sampled while the run goes: a backend's last reading stands for it after it exits."""

    database: str | None
    first: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)
    sampled: bool = False

    async def sample(self, engine: AsyncEngine) -> None:
        if self.database is None:
            return
        async with engine.connect() as conn:
            found = await conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = :d AND pid <> pg_backend_pid()"
                ),
                {"d": self.database},
            )
            pids = [int(p) for (p,) in found] + _background_pids()
        for pid in pids:
            ticks = _cpu_ticks(pid)
            if ticks is not None:  # a backend born during the run started at zero
                self.first.setdefault(pid, ticks if not self.sampled else 0)
                self.last[pid] = ticks
        self.sampled = True

    def seconds(self) -> float:
        return sum(self.last[p] - self.first[p] for p in self.last) / _TICK


@dataclass
class ProcessCpu:
    """CPU seconds of this process (the bench runs the orchestrator's consumer in-process)."""

    started: float = field(default_factory=time.process_time)

    def seconds(self) -> float:
        return time.process_time() - self.started


def hit_rate(hits: int, misses: int) -> float | None:
    return hits / (hits + misses) if hits + misses else None


RESULTS = Path(__file__).parent / "results"


def report(
    backend: str,
    decode: Figure,
    upsert: Figure,
    orchestrator: Figure,
    serial: float,
    extras: list[dict[str, Any]],
) -> dict[str, Any]:
    """Prints the probe's figures (medians over the runs) and returns the backend's JSON part."""

    def med(key: str, sub: str | None = None) -> float | None:
        values = [(x[key][sub] if sub else x[key]) for x in extras]
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    figures = {
        "statements_per_batch_median": med("statements_per_batch", "median"),
        "statements_per_batch_max": med("statements_per_batch", "max"),
        "events_per_batch_median": med("statements_per_batch", "events_per_batch_median"),
        "orchestrator_cpu_us_per_event": med("orchestrator_cpu_us_per_event"),
        "postgresql_cpu_us_per_event": med("postgresql_cpu_us_per_event"),
        "state_cache_hit_rate": med("state_cache_hit_rate"),
    }
    line = (
        f"{backend}: statements/batch median {figures['statements_per_batch_median']:.0f} "
        f"max {figures['statements_per_batch_max']:.0f} "
        f"(batch median {figures['events_per_batch_median']:.0f} events); "
        "CPU us/event orchestrator "
        f"{figures['orchestrator_cpu_us_per_event']:.0f}"
    )
    if figures["postgresql_cpu_us_per_event"] is not None:
        line += f", PostgreSQL {figures['postgresql_cpu_us_per_event']:.0f}"
    if figures["state_cache_hit_rate"] is not None:
        line += f"; state cache hit rate {figures['state_cache_hit_rate']:.1%}"
    print(line)
    return {
        "orchestrator_ev_s": [round(r) for r in orchestrator.runs],
        "orchestrator_median_ev_s": round(orchestrator.median),
        "consume_decode_ev_s": [round(r) for r in decode.runs],
        "bare_upsert_rows_s": [round(r) for r in upsert.runs],
        "serial_bound_ev_s": round(serial),
        "share_of_serial_bound": round(orchestrator.median / serial, 3),
        **{k: (round(v, 3) if v is not None else None) for k, v in figures.items()},
        "runs": extras,
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    """One JSON object per bench at ``bench/results/<name>.json``."""
    path = RESULTS / f"{name}.json"
    stamped = {"when": datetime.now(UTC).isoformat(timespec="seconds"), **result}
    path.write_text(json.dumps(stamped, indent=2) + "\n")
    print(f"written to {path}")
    return path
