"""Reading request bodies: size cap (413), gzip (``Content-Encoding: gzip``), JSON (400).

The cap is enforced while streaming, and again on the decompressed size so a gzip bomb cannot
get past it.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import HTTPException, Request, status
from starlette.requests import ClientDisconnect

from services.ingest.validation import check_body_depth


def too_large(limit: int) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"request body over {limit} bytes")


async def read_raw(request: Request, limit: int) -> bytes:
    """The request body as sent (possibly compressed), at most ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    # Straight from ``receive``: ``Request.stream()``'s async generator costs more than the
    # usual one-message body (measured on the single-event route). The stream can be read once.
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


def decode(raw: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding: gzip``; the decompressed body obeys the same cap."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"unsupported content-encoding {encoding!r}"
        )
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is not valid gzip") from None
    if len(out) > limit:
        raise too_large(limit)
    if not inflater.eof:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is truncated gzip")
    if inflater.unused_data:  # a second member or junk: one request, one gzip member
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "body has bytes after the end of its gzip member"
        )
    return out


def parse_json(body: bytes) -> Any:
    """The parsed body; 400 if it is not JSON, 422 if nested deeper than any event needs."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is not valid JSON") from None
    check_body_depth(raw)
    return raw


async def read_json(request: Request, limit: int) -> tuple[bytes, Any]:
    """The decoded body bytes and their parsed JSON."""
    raw = await read_raw(request, limit)
    body = decode(raw, request.headers.get("content-encoding"), limit)
    return body, parse_json(body)
