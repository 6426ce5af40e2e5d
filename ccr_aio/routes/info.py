"""`/` and `/health`: no auth, used by `status` and by load balancers."""

from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web

from .. import __version__

routes = web.RouteTableDef()


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    return web.json_response({"message": "ccr-aio: Claude Code Router on aiohttp", "version": __version__})


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return web.json_response({"status": "ok", "timestamp": now})
