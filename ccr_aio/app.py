"""`create_app(settings)`: route tables, middlewares, and the shared upstream session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import structlog
from aiohttp import web

from . import browser_guard, drain
from .agents.image_cache import IMAGES, ImageCache
from .middlewares import add_route_headers, auth_middleware, error_middleware, request_id_middleware
from .pipeline.fallback import RESILIENCE, Resilience
from .routes import admin, info, messages, models, presets, ui
from .routes.body_budget import BODY_BUDGET, MAX_BODY_BYTES, BodyBudget, body_budget_middleware
from .pipeline.upstream import HTTP
from .routing.sessions import SESSIONS, Sessions
from .routing.tokens import TOKENS, TokenCounter, load_encoding
from .settings import Settings
from .state import STATE, StateRef, build_snapshot

log = structlog.get_logger("ccr_aio.app")


async def _http_session(app: web.Application) -> AsyncIterator[None]:
    # One pool for every provider; per-call timeouts are set in pipeline/upstream.py.
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=True, trust_env=False) as session:
        app[HTTP] = session
        yield


async def _warm_tokenizer(app: web.Application) -> None:
    # Loading the BPE ranks takes ~130 ms; do it off the loop so /health answers at once.
    asyncio.get_running_loop().run_in_executor(None, load_encoding)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        # inflight: outside the error shaping, so a shutdown can cut any request it tracks.
        # body_budget: last, so only a request that may be handled holds a share of memory.
        middlewares=[request_id_middleware, drain.inflight_middleware, error_middleware,
                     browser_guard.browser_guard_middleware, auth_middleware, body_budget_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[STATE] = StateRef(build_snapshot(settings))
    app[TOKENS] = TokenCounter()
    app[SESSIONS] = Sessions()
    app[IMAGES] = ImageCache()
    app[RESILIENCE] = Resilience()  # provider health and key turns, kept across reloads
    app[BODY_BUDGET] = BodyBudget()  # memory for request bodies in flight, one for the process
    drain.setup(app)  # requests in flight, for a shutdown that keeps its deadline
    app.cleanup_ctx.append(_http_session)
    app.add_routes(info.routes)
    app.add_routes(messages.routes)
    app.add_routes(models.routes)
    admin.setup(app, settings)  # /api/* routes and the per-app management state
    app.add_routes(presets.routes)  # /api/presets
    ui.setup(app)  # /ui (Jinja2 templates/) and /static/ assets
    browser_guard.setup(app)  # response headers that keep other sites' pages out
    app.on_response_prepare.append(add_route_headers)
    app.on_startup.append(_warm_tokenizer)
    return app
