"""Revision 0101 turns the ``retryable:`` / ``permanent:`` prefix of ``send_ledger.error`` into a
boolean column, keeping the rows written before it, and back again on downgrade (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text

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
            names = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("send_ledger")}
            )
            columns = "touch_id, error" + (", retryable" if "retryable" in names else "")
            result = await conn.execute(text(f"SELECT {columns} FROM send_ledger"))
            return {r[0]: (r[1], *(bool(v) for v in r[2:])) for r in result}
    finally:
        await engine.dispose()


async def test_the_prefix_becomes_a_column_and_back(blank_database_url: str) -> None:
    """On SQLite and PostgreSQL: a data conversion is tested where it will run."""
    url = blank_database_url
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
        "t-retry": ("451 4.7.1 try again later", True),
        "t-perm": ("550 5.1.1 no such user", False),
        "t-sent": (None, False),
    }

    await downgrade_async(url, "0100")
    after = await _rows(url)
    assert after["t-retry"] == ("retryable: 451 4.7.1 try again later",)
    assert after["t-sent"] == (None,)
