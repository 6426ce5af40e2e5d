"""Request bodies that must be one JSON object, with the 400s the API gives otherwise."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..errors import ApiError
from ..jsonutil import loads


async def read_json_object(request: web.Request) -> dict[str, Any]:
    return parse_json_object(await request.read())


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"Invalid JSON in request body: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return body
