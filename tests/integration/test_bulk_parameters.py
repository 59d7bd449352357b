"""The bulk statements' parameters reach PostgreSQL exactly: an array bound as one text (its
array literal, ``bulk.pg_array``) and a list of ids bound as one joined text (``bulk.ids``)
come back as the values they were, whatever the text holds (quotes, backslashes, control
characters, the separator itself, ``NULL``, the empty string)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.orchestrator.adapters import bulk
from services.orchestrator.adapters.tables import identity_aliases
from tests.conftest import PG_ADMIN_DB, pg_url
from trellis.db import create_engine

TRICKY = ["a", 'b"c', "d\\e", 'f\\"g', "NULL", "null", "", " sp ", "x\ny", "t\tz", "\x1f",
          "ü€😀", "{}", "a,b", "\\\\n", '{"k": "v\\n"}', "\x01\x7f"]  # fmt: skip
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))  # what PostgreSQL holds


def bulk_engine() -> AsyncEngine:
    """PostgreSQL's admin database: these tests only select."""
    return create_engine(pg_url(PG_ADMIN_DB))


async def _round_trip(conn: AsyncConnection, values: list[Any], kind: str) -> list[Any]:
    # kind comes from this test's own constants
    sql = text(f"SELECT CAST(CAST(:p AS text) AS {kind}[])")
    got: list[Any] = (await conn.execute(sql, {"p": bulk.pg_array(values, kind)})).scalar_one()
    return got


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([*TRICKY, None], "text"),
        ([1.5, 0.1, 1e16, -0.0, float("inf"), float("-inf"), 3, 1e-300, None], "float8"),
        (
            [
                datetime(2026, 1, 1, tzinfo=UTC),
                datetime(2026, 4, 5, 1, 2, 3, 456789, LORD_HOWE),
                datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
                None,
            ],
            "timestamptz",
        ),
        ([1, 2**40, -7, None], "int8"),
        ([True, False, None], "bool"),
        ([], "text"),
    ],
)
async def test_an_array_bound_as_its_literal_comes_back_as_it_was(
    values: list[Any], kind: str
) -> None:
    engine = bulk_engine()
    async with engine.connect() as conn:
        assert await _round_trip(conn, values, kind) == values
    await engine.dispose()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), TEXT)))
async def test_any_text_survives_the_array_literal(values: list[str | None]) -> None:
    engine = bulk_engine()
    async with engine.connect() as conn:
        assert await _round_trip(conn, values, "text") == values
    await engine.dispose()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXT))
async def test_ids_bound_as_one_text_split_back_into_the_same_ids(values: list[str]) -> None:
    engine = bulk_engine()
    async with engine.connect() as conn:
        params = bulk.ids(conn, values)
        got = (
            await conn.execute(text("SELECT string_to_array(:ids, :ids_sep)"), params)
        ).scalar_one()
    await engine.dispose()
    assert set(got) == set(values)


async def test_a_statement_built_once_matches_the_ids_it_is_given(engine: AsyncEngine) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    aliases = [*TRICKY[:7], "x\x1fy", "plain"]
    async with engine.begin() as conn:
        rows = [
            {"alias": a, "contact_id": f"c{i}", "created_at": now} for i, a in enumerate(aliases)
        ]
        await bulk.insert_dicts(conn, identity_aliases, rows)
        stmt = select(identity_aliases.c.alias).where(
            bulk.in_ids(identity_aliases.c.alias, bulk.is_postgresql(conn))
        )
        for wanted in (aliases, aliases[:1], ["", "nobody"], [], ["x\x1fy", "\x1f"]):
            found = (await conn.execute(stmt, bulk.ids(conn, wanted))).scalars()
            assert sorted(found) == sorted(set(wanted) & set(aliases))
        await conn.rollback()
