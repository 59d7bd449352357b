"""PostgreSQL bulk statements: a whole batch as one ``INSERT ... SELECT FROM unnest(arrays)``.

One statement with one array per column instead of an executemany of N rows: one round trip,
one plan, no per-row parameter processing in SQLAlchemy or per-row Bind/Execute in the driver.
The statement text depends only on the columns, so asyncpg's prepared-statement cache holds it
(an ``IN (...)`` list of N parameters is a new statement for every N; ``= ANY(array)`` is one).

Each array travels as one text parameter, its PostgreSQL array literal (``pg_array``), cast by
the database: asyncpg encodes a list element by element, with two ``collections.abc``
isinstance checks per element (a third of the driver's time per batch). Datetimes must be aware,
JSON columns take text (already serialised) and are cast by the database.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
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
    func,
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
    ``IN``. For text columns. (A statement run every batch is better built once, with
    ``in_ids`` and ``ids``.)"""
    wanted = list(values)
    if is_postgresql(conn):
        joined, sep = _joined(wanted)
        return column == any_(_split(bindparam(None, joined, Text), bindparam(None, sep, Text)))  # type: ignore[no-any-return]
    return column.in_(wanted)  # type: ignore[no-any-return]


IDS = "ids"
"""The bound parameter of ``in_ids`` (and ``ids_sep``): give them ``ids(conn, values)``."""


def in_ids(column: Any, postgresql: bool, name: str = IDS) -> ColumnElement[bool]:
    """``column`` is one of the bound ``ids``, for a statement built once and run with
    ``ids(conn, values)`` among its parameters: on PostgreSQL ``= ANY(string_to_array(:ids,
    :sep))``, the values as one text (the function is immutable, so the planner sees the array
    as a constant, as it saw a bound array), an expanding ``IN`` elsewhere. For text columns."""
    if postgresql:
        joined, sep = bindparam(name, type_=Text), bindparam(f"{name}_sep", type_=Text)
        return column == any_(_split(joined, sep))  # type: ignore[no-any-return]
    return column.in_(bindparam(name, expanding=True))  # type: ignore[no-any-return]


def ids(conn: AsyncConnection, values: Iterable[str], name: str = IDS) -> dict[str, Any]:
    """The parameters of a statement built with ``in_ids`` (under the same ``name``)."""
    if is_postgresql(conn):
        joined, sep = _joined(list(values))
        return {name: joined, f"{name}_sep": sep}
    return {name: list(values)}


def _split(joined: Any, sep: Any) -> Any:
    return func.string_to_array(joined, sep, type_=ARRAY(Text))


def _joined(values: list[str]) -> tuple[str, str]:
    """The values joined by a separator none of them holds (unit separator, the ASCII control
    character meant for it, unless a value holds one), and the separator."""
    sep = "\x1f"
    while True:
        joined = sep.join(values)
        if joined.count(sep) == max(len(values) - 1, 0):
            break
        sep = "\x1f" + secrets.token_hex(8)
    if not joined and values:  # [""]: an empty text would split into no value at all
        joined = sep  # two empty values: matches what one does
    return joined, sep


_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
_FLOATS = frozenset({"float8", "float4"})


def pg_array(values: Sequence[Any], kind: str = "text") -> str:
    """The PostgreSQL array literal of ``values`` (scalars of one column of type ``kind``, None
    for NULL), to be bound as text and cast to ``kind[]``: every element double-quoted (a
    string stays a string, ``NULL`` included) with ``"`` and ``\\`` escaped, floats as ``repr``.

    Made by orjson in C: a JSON array's string escapes are the array literal's as long as the
    only ones are ``\\"`` and ``\\\\`` (no control character); otherwise, or for a type
    orjson does not write, element by element (``_slow_array``)."""
    if kind in _FLOATS:
        return "{" + ",".join(["NULL" if v is None else repr(float(v)) for v in values]) + "}"
    try:
        out = orjson.dumps(values, option=_JSON_OPTIONS)
    except TypeError:
        return _slow_array(values)
    if b"\\" in out:  # escapes are pairs, read left to right: drop the escaped backslashes
        rest = out.replace(b"\\\\", b"")
        if rest.count(b"\\") != rest.count(b'\\"'):  # a control character, JSON-escaped
            return _slow_array(values)
    return "{" + out[1:-1].decode() + "}"


def _slow_array(values: Sequence[Any]) -> str:
    return "{" + ",".join([_element(v) for v in values]) + "}"


def _element(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    elif isinstance(value, float):
        value = repr(value)
    quoted = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}"'


@cache
def insert_unnest(table: str, columns: Columns, tail: str = "") -> TextClause:
    """``INSERT INTO table (cols) SELECT ... FROM unnest(:c0, :c1, ...)`` + ``tail`` (ON CONFLICT
    ..., RETURNING ...). Bind ``c0``, ``c1``... with one array literal per column (``arrays``)."""
    names = ", ".join(f'"{c}"' for c, _ in columns)
    arrays = ", ".join(
        f"CAST(:c{i} AS {'text' if t == 'json' else t}[])"
        if t in _BOUND_AS_ARRAYS
        else f"CAST(CAST(:c{i} AS text) AS {t}[])"
        for i, (_, t) in enumerate(columns)
    )
    picks = ", ".join(f'CAST(t."{c}" AS json)' if t == "json" else f't."{c}"' for c, t in columns)
    # Identifiers and types come from this package's constants, never from input; values bind.
    sql = f'INSERT INTO "{table}" ({names}) SELECT {picks} FROM unnest({arrays}) AS t({names}) '  # noqa: S608
    return text(sql + tail)


_BOUND_AS_ARRAYS = frozenset({"json", "timestamptz"})
"""Columns bound as arrays all the same: the server parses a long JSON text out of an array
literal (escapes and all) and a timestamp out of text several times slower than it receives
them in binary, more than their literals save the client."""


def arrays(columns: Columns, rows: Sequence[Sequence[Any]]) -> dict[str, str | list[Any]]:
    """Bind parameters for ``insert_unnest``: rows (tuples in column order) turned into columns,
    each an array literal (``pg_array``) but JSON and timestamp ones (lists)."""
    if not rows:
        return {f"c{i}": [] if t in _BOUND_AS_ARRAYS else "{}" for i, (_, t) in enumerate(columns)}
    return {
        f"c{i}": list(values) if kind in _BOUND_AS_ARRAYS else pg_array(values, kind)
        for i, (values, (_, kind)) in enumerate(zip(zip(*rows, strict=True), columns, strict=True))
    }


async def insert_rows(
    conn: AsyncConnection,
    table: str,
    columns: Columns,
    rows: Sequence[Sequence[Any]],
    tail: str = "",
    extra: Mapping[str, Any] | None = None,
) -> CursorResult[Any]:
    params: dict[str, Any] = dict(arrays(columns, rows))
    if extra:
        params.update(extra)
    return await conn.execute(insert_unnest(table, columns, tail), params)


def pg_type(column: Column[Any]) -> str:
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
    columns = tuple((n, pg_type(table.c[n])) for n in names)
    json_at = {n for n, t in columns if t == "json"}
    values = [tuple(json_dumps(r[n]) if n in json_at else r[n] for n in names) for r in rows]
    await insert_rows(conn, table.name, columns, values, tail)
