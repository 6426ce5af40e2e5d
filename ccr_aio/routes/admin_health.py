"""GET /api/providers/health: the state of every provider, model and pooled key (ok / cooling
until <time> / disabled), its last error and consecutive failures. Keys appear by index only."""

from __future__ import annotations

from aiohttp import web

from ..pipeline.fallback import RESILIENCE
from ..resilience import health_report
from ..state import STATE

routes = web.RouteTableDef()


@routes.get("/api/providers/health")
async def providers_health(request: web.Request) -> web.Response:
    resilience = request.app[RESILIENCE]
    pools = request.app[STATE].current.upstreams.pools
    return web.json_response(await health_report(resilience.store, pools, resilience.clock()))
