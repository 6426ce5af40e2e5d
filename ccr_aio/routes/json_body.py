"""Request bodies that must be one JSON object, with the 400s the API gives otherwise.

Bodies are read here rather than with `request.read()`: that one keeps a second copy while it
reads and caches the bytes on the request for its whole life, so a 50 MB body would stay in
memory beside its parsed form. Here the bytes are checked (`inputs.json_body`: UTF-8, depth,
surrogates), then dropped before parsing, and a chunked body reserves its share of the memory
budget as it arrives.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ..inputs.json_body import check_json_bytes, parse_checked_body
from .body_budget import MAX_BODY_BYTES, RESERVATION

PARSE_COST_FROM = 256 * 1024  # below this, what the parsed objects add is not worth a scan


async def read_json_object(request: web.Request) -> dict[str, Any]:
    return (await read_json_body(request))[0]


async def read_json_body(request: web.Request) -> tuple[dict[str, Any], int]:
    """The body as one JSON object (or a 400 naming what is wrong: bad JSON, too deep, NaN,
    not an object), and its size in bytes."""
    raw = await read_body(request)
    size = len(raw)
    reservation = request.get(RESERVATION)
    if reservation is not None and size > PARSE_COST_FROM:
        await reservation.add_parse(raw)
    checked = check_json_bytes(raw)
    raw.clear()  # the bytes are not needed beside the text and the parsed objects
    body = parse_checked_body(checked)
    del checked
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
