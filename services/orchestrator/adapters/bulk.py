"""PostgreSQL bulk statements: a whole batch as one ``INSERT ... SELECT FROM unnest(arrays)``.

One statement with one array per column instead of an executemany of N rows: one round trip,
one plan, no per-row parameter processing in SQLAlchemy or per-row Bind/Execute in the driver.
The statement text depends only on the columns, so asyncpg's prepared-statement cache holds it
(an ``IN (...)`` list of N parameters is a new statement for every N; ``= ANY(array)`` is one).

Values go to the driver as they are: datetimes must be aware, JSON columns take text (already
serialised) and are cast by the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    Table,
    Text,
    TextClause,
    any_,
    bindparam,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from trellis.db import UtcDateTime, json_dumps

Columns = tuple[tuple[str, str], ...]
"""(column, PostgreSQL type) in statement order; type ``json`` is sent as text and cast."""


def is_postgresql(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def one_of(conn: AsyncConnection, column: Any, values: Iterable[str]) -> ColumnElement[bool]:
    """``column = ANY(:array)`` on PostgreSQL: one statement text, one prepared statement and
    one plan for any number of values, where ``IN (...)`` is a new statement (parsed and
    planned by the server, its N parameters rendered by SQLAlchemy) for every count; elsewhere
    ``IN``. For text columns."""
    wanted = list(values)
    if is_postgresql(conn):
        return column == any_(bindparam(None, wanted, type_=ARRAY(Text)))  # type: ignore[no-any-return]
    return column.in_(wanted)  # type: ignore[no-any-return]


@cache
def insert_unnest(table: str, columns: Columns, tail: str = "") -> TextClause:
    """``INSERT INTO table (cols) SELECT ... FROM unnest(:c0, :c1, ...)`` + ``tail`` (ON CONFLICT
    ..., RETURNING ...). Bind ``c0``, ``c1``... with one list per column (see ``arrays``)."""
    names = ", ".join(f'"{c}"' for c, _ in columns)
    arrays = ", ".join(
        f"CAST(:c{i} AS {'text' if t == 'json' else t}[])" for i, (_, t) in enumerate(columns)
    )
    picks = ", ".join(f'CAST(t."{c}" AS json)' if t == "json" else f't."{c}"' for c, t in columns)
    # Identifiers and types come from this package's constants, never from input; values bind.
    sql = f'INSERT INTO "{table}" ({names}) SELECT {picks} FROM unnest({arrays}) AS t({names}) '  # noqa: S608
    return text(sql + tail)


def arrays(columns: Columns, rows: Sequence[Sequence[Any]]) -> dict[str, list[Any]]:
    """Bind parameters for ``insert_unnest``: rows (tuples in column order) turned into columns."""
    if not rows:
        return {f"c{i}": [] for i in range(len(columns))}
    return {f"c{i}": list(values) for i, values in enumerate(zip(*rows, strict=True))}


async def insert_rows(
    conn: AsyncConnection,
    table: str,
    columns: Columns,
    rows: Sequence[Sequence[Any]],
    tail: str = "",
    extra: Mapping[str, Any] | None = None,
) -> CursorResult[Any]:
    params: dict[str, Any] = arrays(columns, rows)
    if extra:
        params.update(extra)
    return await conn.execute(insert_unnest(table, columns, tail), params)


def _pg_type(column: Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, JSON):
        return "json"
    if isinstance(kind, UtcDateTime | DateTime):
        return "timestamptz"
    if isinstance(kind, Boolean):
        return "bool"
    if isinstance(kind, BigInteger):
        return "int8"
    if isinstance(kind, Integer):
        return "int4"
    if isinstance(kind, Float):
        return "float8"
    return "text"


async def insert_dicts(
    conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]], tail: str = ""
) -> None:
    """``conn.execute(table.insert(), rows)`` as one ``unnest`` statement on PostgreSQL (the
    columns are the first row's keys; JSON values are serialised here), else as that executemany.
    ``tail``: e.g. ``ON CONFLICT DO NOTHING`` (on SQLite use ``sqlite_insert`` yourself)."""
    if not rows:
        return
    if not is_postgresql(conn):
        await conn.execute(table.insert(), list(rows))
        return
    names = list(rows[0])
    columns = tuple((n, _pg_type(table.c[n])) for n in names)
    json_at = {n for n, t in columns if t == "json"}
    values = [tuple(json_dumps(r[n]) if n in json_at else r[n] for n in names) for r in rows]
    await insert_rows(conn, table.name, columns, values, tail)


def executemany_params(columns: Columns, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows as executemany parameters; JSON columns hold serialised text, embedded as is."""
    names = [c for c, _ in columns]
    json_at = [i for i, (_, t) in enumerate(columns) if t == "json"]
    out = []
    for row in rows:
        d = dict(zip(names, row, strict=True))
        for i in json_at:
            d[names[i]] = orjson.Fragment(row[i])
        out.append(d)
    return out
