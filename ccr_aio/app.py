"""`create_app(settings)`: route tables, middlewares, and the shared upstream session."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import structlog
from aiohttp import web

from . import browser_guard, drain, memory
from .agents.image_cache import IMAGES, ImageCache
from .middlewares import auth_middleware, error_middleware, request_id_middleware
from .routes import admin, info, messages, models, ui
from .pipeline.upstream import HTTP
from .routing.sessions import SESSIONS, Sessions
from .routing.tokens import TOKENS, TokenCounter
from .settings import Settings
from .state import STATE, StateRef, build_snapshot

MAX_BODY_BYTES = 64 * 1024 * 1024  # Claude Code sends MBs once screenshots pile up
log = structlog.get_logger("ccr_aio.app")


async def _http_session(app: web.Application) -> AsyncIterator[None]:
    # One pool for every provider; per-call timeouts are set in pipeline/upstream.py.
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=True, trust_env=False) as session:
        app[HTTP] = session
        yield


async def _trim_memory_when_idle(app: web.Application) -> AsyncIterator[None]:
    inflight = app[drain.INFLIGHT]
    task = asyncio.create_task(memory.trim_when_idle(lambda: len(inflight.tasks), lambda: inflight.finished))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        # inflight: outside the error shaping, so a shutdown can cut any request it tracks.
        middlewares=[request_id_middleware, drain.inflight_middleware, error_middleware,
                     browser_guard.browser_guard_middleware, auth_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[STATE] = StateRef(build_snapshot(settings))
    app[TOKENS] = TokenCounter()
    app[SESSIONS] = Sessions()
    app[IMAGES] = ImageCache()
    drain.setup(app)  # requests in flight, for a shutdown that keeps its deadline
    app.cleanup_ctx.append(_http_session)
    app.cleanup_ctx.append(_trim_memory_when_idle)
    app.add_routes(info.routes)
    app.add_routes(messages.routes)
    app.add_routes(models.routes)
    admin.setup(app, settings)  # /api/* routes and the per-app management state
    ui.setup(app)  # /ui (Jinja2 templates/) and /static/ assets
    browser_guard.setup(app)  # response headers that keep other sites' pages out
    return app
