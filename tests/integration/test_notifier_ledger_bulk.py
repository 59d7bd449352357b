"""The send ledger is written in bulk: a batch costs the same few statements whatever its size
(claim, results), on SQLite and PostgreSQL, with a real SMTP server; touches left ``sending`` by
a crash are failed in one statement too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.ledger import claim_for_sending, release
from services.notifier.tables import send_ledger
from tests.integration.notifier_servers import smtp_server
from tests.integration.test_notifier_dispatch import NOW, MemoryPublisher, cmd, dispatcher


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every statement the engine sends (an executemany counts once)."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "SELECT"):
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_a_batch_costs_the_same_statements_whatever_its_size(engine: AsyncEngine) -> None:
    publisher = MemoryPublisher()
    async with smtp_server() as (catcher, port):
        d = dispatcher(engine, port, publisher)
        with counting(engine) as small:
            await d.dispatch([cmd(f"small-{i}") for i in range(3)])
        with counting(engine) as large:
            await d.dispatch([cmd(f"large-{i}") for i in range(120)])
    assert len(catcher.messages) == 123
    assert len(large) == len(small) <= 3, large  # claim, promote queued, results


async def test_touches_left_sending_by_a_crash_fail_in_one_statement(engine: AsyncEngine) -> None:
    crashed = [cmd(f"crash-{i}") for i in range(40)]
    async with engine.begin() as conn:
        await claim_for_sending(conn, crashed, NOW)
    publisher = MemoryPublisher()
    async with smtp_server() as (catcher, port):
        with counting(engine) as statements:
            await dispatcher(engine, port, publisher).dispatch(crashed)
    assert catcher.messages == []
    assert {o.status.value for o in publisher.outcomes} == {"failed"}
    assert len(publisher.outcomes) == 40
    assert len(statements) <= 4, statements  # claim, promote, load, fail the unknown
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(send_ledger.c.status).where(send_ledger.c.touch_id.like("crash-%"))
        )
        assert {r.status for r in rows} == {"failed"}


async def test_claimed_rows_read_back_as_written_and_released_ones_are_claimed_again(
    engine: AsyncEngine,
) -> None:
    """SQLite's claim binds below SQLAlchemy's types: the row must read back through them as
    the typed path wrote it (UTC times, the offset, one attempt), and a released touch is
    claimed again with its attempts counted."""
    batch = [cmd(f"typed-{i}") for i in range(3)]
    async with engine.begin() as conn:
        first = await claim_for_sending(conn, [(c, 40 + i) for i, (c, _) in enumerate(batch)], NOW)
        again = await claim_for_sending(conn, batch, NOW)
        await release(conn, ["typed-1"], NOW)
        later = NOW + timedelta(minutes=5)
        promoted = await claim_for_sending(conn, batch, later)
    assert first == {"typed-0", "typed-1", "typed-2"} and again == set()
    assert promoted == {"typed-1"}
    async with engine.connect() as conn:
        rows = {
            r.touch_id: r
            for r in await conn.execute(
                select(send_ledger).where(send_ledger.c.touch_id.like("typed-%"))
            )
        }
    assert rows["typed-0"].created_at == NOW and rows["typed-0"].updated_at == NOW
    assert rows["typed-0"].topic_offset == 40 and rows["typed-2"].topic_offset == 42
    assert (rows["typed-0"].status, rows["typed-0"].attempts) == ("sending", 1)
    assert (rows["typed-1"].status, rows["typed-1"].attempts) == ("sending", 2)
    assert rows["typed-1"].updated_at == later and rows["typed-1"].created_at == NOW
    assert rows["typed-0"].channel == "email"
