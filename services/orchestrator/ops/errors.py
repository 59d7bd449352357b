"""Error bodies that say what was wrong: 404 names the missing id, 422 names the field.

404/409 use ``{"detail": {"error": ..., "message": ...}}`` like 401/403; 422 keeps FastAPI's
validation shape (``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``) so clients parse one
format for both the framework's checks and ours.
"""

from __future__ import annotations

from fastapi import HTTPException, status


def not_found(what: str, ident: str) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND,
        {"error": "not_found", "message": f"no {what} with id {ident!r}", what: ident},
    )


def invalid(where: str, field: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": [where, field], "msg": message, "type": "value_error"}],
    )


def conflict(message: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, {"error": "conflict", "message": message})
