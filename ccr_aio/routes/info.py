"""`/`, `/health` and `/api/hello`: no auth, used by `status`, load balancers and Claude Code."""

from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web

from .. import __version__

routes = web.RouteTableDef()


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    return web.json_response({"message": "ccr-aio: Claude Code Router on aiohttp", "version": __version__})


@routes.get("/health")
@routes.get("/api/hello")  # Claude Code sends `HEAD /api/hello` before it connects
async def health(request: web.Request) -> web.Response:
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return web.json_response({"status": "ok", "timestamp": now})
