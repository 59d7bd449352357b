"""Keyset pagination with opaque cursors: stable under inserts, no OFFSET scans.

A cursor is the sort key of the last row returned (urlsafe base64 of JSON); the next page starts
strictly after it. The same cursor works on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, and_, or_

from schemas.plausibility import has_control_characters
from trellis import b64url

MAX_LIMIT = 500


class InvalidCursor(ValueError):
    pass


def encode_cursor(*values: Any) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return b64url.encode(orjson.dumps(plain))


def decode_cursor(cursor: str, timed: bool, numeric_id: bool = False) -> tuple[Any, Any]:
    """(sort value, id); ``timed``: the sort value is a datetime; ``numeric_id``: an int id.

    A cursor is client input: everything in it is checked to be what ``encode_cursor`` could
    have written (a text without NUL, an aware time that converts to UTC, a 64-bit id) so a
    forged one is a 422, never a driver error."""
    try:
        raw = b64url.decode(cursor)
        value, ident = orjson.loads(raw)
        if numeric_id:
            if not isinstance(ident, int) or isinstance(ident, bool) or not 0 <= ident < 2**63:
                raise TypeError("id")
        elif not _text(ident):
            raise TypeError("id")
        if timed:
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise ValueError("a naive time")
            value.astimezone(UTC)  # OverflowError near datetime.max/min
        elif not _text(value):
            raise TypeError("sort value")
        return value, ident
    except (ValueError, TypeError, OverflowError) as exc:  # binascii and orjson errors too
        raise InvalidCursor("not a cursor this API returned") from exc


def _text(value: Any) -> bool:
    return isinstance(value, str) and not has_control_characters(value)


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
