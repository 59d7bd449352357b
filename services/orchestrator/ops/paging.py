"""Keyset pagination with opaque cursors: stable under inserts, no OFFSET scans.

A cursor is the sort key of the last row returned (urlsafe base64 of JSON); the next page starts
strictly after it. The same cursor works on SQLite and PostgreSQL.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, and_, or_

from trellis import b64url

MAX_LIMIT = 500


class InvalidCursor(ValueError):
    pass


def encode_cursor(*values: Any) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return b64url.encode(orjson.dumps(plain))


def decode_cursor(cursor: str, timed: bool, numeric_id: bool = False) -> tuple[Any, Any]:
    """(sort value, id); ``timed``: the sort value is a datetime; ``numeric_id``: an int id."""
    try:
        raw = b64url.decode(cursor)
        value, ident = orjson.loads(raw)
        if not isinstance(ident, int if numeric_id else str) or isinstance(ident, bool):
            raise TypeError("id")
        return (datetime.fromisoformat(value) if timed else value), ident
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise InvalidCursor("not a cursor this API returned") from exc


def page(
    query: Select[Any],
    sort: Any,
    ident: Any,
    cursor: str | None,
    limit: int,
    *,
    descending: bool,
    timed: bool,
    numeric_id: bool = False,
) -> Select[Any]:
    """``query`` ordered by (sort, id), after ``cursor``, one row more than ``limit``."""
    if cursor:
        value, last = decode_cursor(cursor, timed, numeric_id)
        after: ColumnElement[bool] = (
            or_(sort < value, and_(sort == value, ident < last))
            if descending
            else or_(sort > value, and_(sort == value, ident > last))
        )
        query = query.where(after)
    order = (sort.desc(), ident.desc()) if descending else (sort.asc(), ident.asc())
    return query.order_by(*order).limit(limit + 1)


def finish(
    rows: Sequence[dict[str, Any]], limit: int, sort_key: str, id_key: str = "id"
) -> dict[str, Any]:
    """``{"items": [...], "next_cursor": ...}`` from ``limit + 1`` fetched rows."""
    items = list(rows[:limit])
    more = len(rows) > limit
    cursor = encode_cursor(items[-1][sort_key], items[-1][id_key]) if more and items else None
    return {"items": items, "next_cursor": cursor}
