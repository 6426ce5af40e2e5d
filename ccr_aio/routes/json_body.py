"""Request bodies that must be one JSON object, with the 400s the API gives otherwise.

Bodies are read here rather than with `request.read()`: that one keeps a second copy while it
reads and caches the bytes on the request for its whole life, so a 50 MB body would stay in
memory beside its parsed form. Here the bytes are decoded, then dropped before parsing, and a
chunked body reserves its share of the memory budget as it arrives.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from ..errors import ApiError
from ..jsonutil import loads
from .body_budget import MAX_BODY_BYTES, RESERVATION

PARSE_COST_FROM = 256 * 1024  # below this, what the parsed objects add is not worth a scan


async def read_json_object(request: web.Request) -> dict[str, Any]:
    return (await read_json_body(request))[0]


async def read_json_body(request: web.Request) -> tuple[dict[str, Any], int]:
    """The body as one JSON object, and its size in bytes."""
    raw = await read_body(request)
    size = len(raw)
    reservation = request.get(RESERVATION)
    if reservation is not None and size > PARSE_COST_FROM:
        await reservation.add_parse(raw)
    try:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")  # as json.loads(bytes) reads
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"Invalid JSON in request body: {exc}") from None
    raw.clear()  # the bytes are not needed beside the text and the parsed objects
    body = parse_json_object(text)
    if size > PARSE_COST_FROM:
        await asyncio.sleep(0)  # let other requests (/health) in between parsing and converting
    return body, size


async def read_body(request: web.Request) -> bytearray:
    """The whole body, refused past the size limit; a body sent without Content-Length takes
    its memory reservation as its bytes come (see body_budget.py)."""
    reservation = request.get(RESERVATION)
    chunked = request.content_length is None
    body = bytearray()
    async for data in request.content.iter_any():
        if len(body) + len(data) > MAX_BODY_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=len(body) + len(data))
        if chunked and reservation is not None:
            await reservation.add_body(len(data))
        body += data
    return body


def parse_json_object(raw: bytes | str) -> dict[str, Any]:
    try:
        body = loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"Invalid JSON in request body: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return body
