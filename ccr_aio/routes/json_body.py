"""Request bodies that must be one JSON object, with the 400s the API gives otherwise."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..inputs.json_body import parse_json_body


async def read_json_object(request: web.Request) -> dict[str, Any]:
    return parse_json_object(await request.read())


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """One JSON object, or a 400 naming what is wrong (bad JSON, too deep, NaN, not an object)."""
    return parse_json_body(raw)
