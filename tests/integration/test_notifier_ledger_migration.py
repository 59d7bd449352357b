"""Revision 0101 turns the ``retryable:`` / ``permanent:`` prefix of ``send_ledger.error`` into a
boolean column, keeping the rows written before it, and back again on downgrade."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from trellis.db import create_engine
from trellis.migrate import downgrade_async, upgrade_async

ROWS = [
    ("t-retry", "failed", "retryable: 451 4.7.1 try again later"),
    ("t-perm", "failed", "permanent: 550 5.1.1 no such user"),
    ("t-sent", "sent", None),
]


async def _rows(url: str) -> dict[str, tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            columns = "touch_id, error" + (
                ", retryable"
                if "retryable"
                in {
                    r[1] for r in (await conn.execute(text("PRAGMA table_info(send_ledger)"))).all()
                }
                else ""
            )
            result = await conn.execute(text(f"SELECT {columns} FROM send_ledger"))
            return {r[0]: tuple(r[1:]) for r in result}
    finally:
        await engine.dispose()


async def test_the_prefix_becomes_a_column_and_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    await upgrade_async(url, "0100")
    engine = create_engine(url)
    now = datetime(2026, 11, 22, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            for touch_id, status, error in ROWS:
                await conn.execute(
                    text(
                        "INSERT INTO send_ledger (touch_id, channel, status, attempts, error,"
                        " created_at, updated_at) VALUES (:t, 'email', :s, 1, :e, :n, :n)"
                    ),
                    {"t": touch_id, "s": status, "e": error, "n": now},
                )
    finally:
        await engine.dispose()

    await upgrade_async(url)
    assert await _rows(url) == {
        "t-retry": ("451 4.7.1 try again later", 1),
        "t-perm": ("550 5.1.1 no such user", 0),
        "t-sent": (None, 0),
    }

    await downgrade_async(url, "0100")
    after = await _rows(url)
    assert after["t-retry"] == ("retryable: 451 4.7.1 try again later",)
    assert after["t-sent"] == (None,)
