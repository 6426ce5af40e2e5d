"""GET /v1/models: filled in by the routing issue."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
