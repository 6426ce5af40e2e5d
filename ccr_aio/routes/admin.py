"""Management API (/api/*): filled in by the management issue."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
