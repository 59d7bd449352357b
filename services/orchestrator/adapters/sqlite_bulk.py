"""SQLite bulk statements: an executemany below SQLAlchemy's per-row parameter processing.

SQLAlchemy's executemany builds a parameter dict per row and runs each value through its type's
processor (a datetime through two: ``UtcDateTime``, then ``%``-formatting); on a batch's
inserts and upserts that was a fifth of the SQLite orchestrator's CPU, spent in the one thread
the batch, the scheduler and the consumer share. Here the statement is compiled once, and the
rows go to the driver as tuples, the only conversion a timestamp's ``isoformat``: the values
stored are the ones SQLAlchemy stored (``trellis.db.sqlite_datetime``; JSON as already
serialised text; the driver stores ``bool`` as 0/1 as SQLAlchemy did).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from services.orchestrator.adapters.bulk import Columns, pg_type
from trellis.db import json_dumps, sqlite_datetime

_COMPILED: dict[Hashable, tuple[str, tuple[int, ...]]] = {}


def compiled(
    conn: AsyncConnection, key: Hashable, stmt: ClauseElement, names: Sequence[str]
) -> tuple[str, tuple[int, ...]]:
    """The SQL of ``stmt`` for values of the columns ``names`` (once per ``key``) and, per
    positional parameter, the index of its column in ``names``."""
    found = _COMPILED.get(key)
    if found is None:
        done = cast(SQLCompiler, stmt.compile(dialect=conn.dialect, column_keys=list(names)))
        order = done.positiontup or []
        unknown = [p for p in order if p not in names]
        if unknown:  # a column default SQLAlchemy would fill: this path cannot
            raise ValueError(f"statement binds {unknown}, not among the row's columns")
        found = _COMPILED[key] = (done.string, tuple(names.index(p) for p in order))
    return found


async def insert_many(
    conn: AsyncConnection,
    key: Hashable,
    stmt: ClauseElement,
    columns: Columns,
    rows: Sequence[Sequence[Any]],
) -> None:
    """``stmt`` (an INSERT, upsert included) once per row of ``rows`` (tuples in ``columns``
    order; JSON columns hold serialised text, timestamps aware datetimes), in one executemany.
    ``key`` names the statement in the compiled cache: one per statement shape."""
    if not rows:
        return
    sql, order = compiled(conn, key, stmt, [c for c, _ in columns])
    stamps = [i for i, (_, kind) in enumerate(columns) if kind == "timestamptz"]
    params = []
    for row in rows:
        if stamps:
            row = list(row)
            for i in stamps:
                row[i] = sqlite_datetime(row[i])
        params.append(tuple([row[i] for i in order]))
    await conn.exec_driver_sql(sql, params)


async def insert_dicts(
    conn: AsyncConnection, key: Hashable, stmt: ClauseElement, table: Table,
    rows: Sequence[Mapping[str, Any]],
) -> None:  # fmt: skip
    """``insert_many`` for rows as dicts (the columns are the first row's keys; JSON values
    are serialised here)."""
    if not rows:
        return
    names = list(rows[0])
    columns = tuple((n, pg_type(table.c[n])) for n in names)
    as_json = {n for n, kind in columns if kind == "json"}
    values = [tuple(json_dumps(r[n]) if n in as_json else r[n] for n in names) for r in rows]
    await insert_many(conn, (key, tuple(names)), stmt, columns, values)
