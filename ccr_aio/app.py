"""`create_app(settings)`: route tables, middlewares, and the shared upstream session."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator

import aiohttp
import structlog
from aiohttp import web

from . import browser_guard, drain, memory
from .agents.image_cache import IMAGES, ImageCache
from .middlewares import add_route_headers, auth_middleware, error_middleware, request_id_middleware
from .pipeline.fallback import RESILIENCE, Resilience
from .pipeline.record_hooks import RECORDER
from .pipeline.upstream import HTTP
from .routes import admin, info, messages, models, presets, ui, usage
from .routes.body_budget import BODY_BUDGET, MAX_BODY_BYTES, BodyBudget, body_budget_middleware
from .routes.request_record import record_middleware
from .records import Recorder, SchemaTooNew
from .routing.sessions import SESSIONS, Sessions
from .routing.tokens import TOKENS, TokenCounter
from .settings import Settings
from .shared import Backend, SharedHealthStore, open_backend
from .state import STATE, StateRef, build_snapshot

USAGE_FILE = "usage.db"  # request records, next to the config
log = structlog.get_logger("ccr_aio.app")


async def _http_session(app: web.Application) -> AsyncIterator[None]:
    # One pool for every provider; per-call timeouts are set in pipeline/upstream.py. No cookie
    # jar: a cookie one provider call sets (a CDN's bot cookie) must not ride along on every
    # later user's request, as none does in Claude Code Router; and the jar's per-request
    # filtering is work for nothing.
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=True, trust_env=False,
                                     cookie_jar=aiohttp.DummyCookieJar()) as session:
        app[HTTP] = session
        yield


async def _records(app: web.Application) -> AsyncIterator[None]:
    # Read once at start (a reload cannot move the file); the server's shutdown runs this
    # cleanup after the drain, so the records of requests it cut are written too.
    settings = app[STATE].current.settings
    config = settings.config
    recorder = Recorder()  # metrics and log lines only: USAGE false, or no usable file
    if config.usage:
        path = settings.home / USAGE_FILE
        try:
            recorder = await Recorder.open(path=path, retention_days=config.usage_retention_days or None)
        except (OSError, sqlite3.Error, SchemaTooNew) as exc:
            log.error("usage_records_unavailable", path=str(path), error=str(exc),
                      note="requests are served; /api/usage and /api/requests have no data")
    app[RECORDER] = recorder
    yield
    await recorder.aclose()


async def _trim_memory_when_idle(app: web.Application) -> AsyncIterator[None]:
    inflight = app[drain.INFLIGHT]
    task = asyncio.create_task(memory.trim_when_idle(lambda: len(inflight.tasks), lambda: inflight.finished))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _share_state(app: web.Application, shared: Backend) -> None:
    """Images, session usage and provider health go to `shared`; key-pool stickiness stays
    per process by design (a session keeps its key within a worker)."""
    app[SESSIONS].shared = shared
    app[IMAGES].shared = shared
    app[RESILIENCE].store = SharedHealthStore(shared)

    async def close(app: web.Application) -> None:
        await shared.close()

    app.on_cleanup.append(close)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        # inflight: outside the error shaping, so a shutdown can cut any request it tracks.
        # body_budget: last, so only a request that may be handled holds a share of memory.
        middlewares=[request_id_middleware, drain.inflight_middleware, error_middleware,
                     browser_guard.browser_guard_middleware, auth_middleware, record_middleware,
                     body_budget_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[STATE] = StateRef(build_snapshot(settings))
    app[TOKENS] = TokenCounter()
    app[SESSIONS] = Sessions()
    app[IMAGES] = ImageCache()
    app[RESILIENCE] = Resilience()  # provider health and key turns, kept across reloads
    shared = open_backend(settings.home, settings.workers, settings.config.redis_url)
    if shared is not None:  # several workers or instances: state they must agree on
        _share_state(app, shared)
    app[BODY_BUDGET] = BodyBudget()  # memory for request bodies in flight, one for the process
    drain.setup(app)  # requests in flight, for a shutdown that keeps its deadline
    app.cleanup_ctx.append(_http_session)
    app.cleanup_ctx.append(_records)
    app.cleanup_ctx.append(_trim_memory_when_idle)
    app.add_routes(info.routes)
    app.add_routes(messages.routes)
    app.add_routes(models.routes)
    app.add_routes(usage.routes)  # /api/requests, /api/usage, /api/sessions/{id}, /metrics
    admin.setup(app, settings)  # /api/* routes and the per-app management state
    app.add_routes(presets.routes)  # /api/presets
    ui.setup(app)  # /ui (Jinja2 templates/) and /static/ assets
    browser_guard.setup(app)  # response headers that keep other sites' pages out
    app.on_response_prepare.append(add_route_headers)
    return app
