"""Management API: /api/config, /api/transformers, /api/reload, /api/restart (logs: admin_logs.py,
provider health: admin_health.py).

Reload: a config that was saved (or changed on disk, for /api/reload and /api/restart) becomes
a new `Snapshot` that replaces `app[STATE].current`. Requests already running keep the snapshot
they read at their start, so no stream is dropped. A config that does not build (unknown
transformer, bad PORT...) is refused before anything is written: the old file and the old
snapshot stay, and the 400 says why. So is one the next start could not read back (nested too
deep for the JSON5 reader), and one that points the server at files outside the config
directory (`admin_files.py`).

A server that listens on the network without an APIKEY (first-run set-up) and gets providers
by a save or a reload moves its listening socket to 127.0.0.1 at once (`rebind`, set by the
server); it does not stay open until the next restart.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import structlog
from aiohttp import web

from .. import config_store
from ..config_mask import MaskedUnknown, mask_config, unmask_config
from ..config import ConfigError, ConfigInvalid, Problem, describe
from ..config.hosts import is_loopback_name
from ..errors import ApiError
from ..inputs.json_body import has_lone_surrogate_escape, parse_json_body
from ..pipeline.fallback import RESILIENCE
from ..settings import Settings, build_settings, load_settings, parse_config_text
from ..state import STATE, Snapshot, build_snapshot
from ..transformers.descriptions import describe_transformer
from . import admin_files, admin_health, admin_logs
from .json_body import read_body

routes = web.RouteTableDef()
log = structlog.get_logger("ccr_aio.admin")
LOOPBACK = "127.0.0.1"
CONFIG_TYPES = ("application/json", "application/json5")


@dataclass
class Admin:
    """Per-app management state. `__main__` fills in `overrides` (CLI flags) and `restart`."""

    started: Settings  # what the process listens and logs with; a reload cannot change those
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    overrides: dict[str, Any] = field(default_factory=dict)
    # Called after /api/restart has answered; None (tests, embedding) = reload only.
    restart: Callable[[], None] | None = None
    # Moves the listening socket to another host, same port; None (tests, embedding) = cannot.
    rebind: Callable[[str], Awaitable[None]] | None = None
    # Called after a save or /api/reload applied a new config here; with several workers it
    # tells the others to reload too. None = a single process.
    reloaded: Callable[[], None] | None = None

    def tell_others(self) -> None:
        if self.reloaded is not None:
            self.reloaded()

    def settings_for(self, raw: dict[str, Any]) -> Settings:
        return build_settings(raw, self.started.config_path, self.env, self.overrides)

    def load(self) -> Settings:
        return load_settings(self.started.config_path, self.env, self.overrides, create=False)


ADMIN = web.AppKey("admin", Admin)


def setup(app: web.Application, settings: Settings) -> None:
    app[ADMIN] = Admin(started=settings)
    app.add_routes(routes)
    app.add_routes(admin_logs.routes)
    app.add_routes(admin_health.routes)


def restart_notes(admin: Admin, settings: Settings) -> list[str]:
    """Changes a reload cannot apply to the running process."""
    before = admin.started
    changed = [name for name, old, new in (
        ("HOST", before.host, settings.host), ("PORT", before.port, settings.port),
        ("LOG", before.log_enabled, settings.log_enabled),
        ("LOG_LEVEL", before.log_level, settings.log_level),
        ("USAGE", before.config.usage, settings.config.usage),
        ("USAGE_RETENTION_DAYS", before.config.usage_retention_days,
         settings.config.usage_retention_days)) if old != new]
    if not changed:
        return []
    return [f"{', '.join(changed)} changed: takes effect after a restart (POST /api/restart)"]


async def install(app: web.Application, snapshot: Snapshot) -> None:
    """Make `snapshot` the current config. Provider health starts afresh: a disabled key may
    have been replaced, and key indexes may now point at other keys."""
    app[STATE].current = snapshot
    await app[RESILIENCE].store.clear()


async def apply(app: web.Application, snapshot: Snapshot) -> list[str]:
    """Install `snapshot` (the caller holds `admin.lock`); notes for the answer. A server open
    to the network without an APIKEY that now has providers closes to 127.0.0.1 at once."""
    admin = app[ADMIN]
    await install(app, snapshot)
    settings = snapshot.settings
    if not settings.config.providers or settings.apikey or is_loopback_name(admin.started.host):
        return []
    if admin.rebind is None:  # embedded: the browser guard answers only this machine meanwhile
        log.warning("open_without_apikey", host=admin.started.host)
        return [f"Providers and no APIKEY: only requests from this machine are answered; restart to "
                f"listen on {LOOPBACK} only"]
    await admin.rebind(LOOPBACK)
    admin.started = replace(admin.started, host=LOOPBACK)
    log.warning("listening_narrowed", host=LOOPBACK, reason="providers and no APIKEY")
    return [f"Providers and no APIKEY: the server now listens on {LOOPBACK} only (it was open to the "
            "network for set-up); set APIKEY to reach it from other machines"]


async def reload_with_notes(app: web.Application) -> tuple[Snapshot, list[str]]:
    """Load the config file again and swap the snapshot; ConfigError leaves the old one."""
    admin = app[ADMIN]
    async with admin.lock:
        # Off the loop: reading the file, importing plugins and a custom router all block.
        snapshot = await asyncio.to_thread(lambda: build_snapshot(admin.load()))
        notes = await apply(app, snapshot)
    log.info("config_reloaded", config=str(snapshot.settings.config_path), providers=len(snapshot.providers))
    return snapshot, notes


async def reload_from_disk(app: web.Application) -> Snapshot:
    return (await reload_with_notes(app))[0]


@routes.get("/api/config")
async def get_config(request: web.Request) -> web.Response:
    settings = request.app[STATE].current.settings
    try:
        raw = await asyncio.to_thread(config_store.read_raw, settings.config_path)
    except FileNotFoundError:
        raw = settings.raw  # deleted behind our back: show what is running
    except ConfigError as exc:
        raise ApiError(500, f"The config file does not parse: {exc}") from None
    except OSError as exc:
        raise ApiError(500, f"Cannot read {settings.config_path}: {exc.strerror or exc}") from None
    # Keys leave masked unless asked for by name (`?reveal=1`): see config_mask.
    return web.json_response(raw if request.query.get("reveal") == "1" else mask_config(raw))


def restore_masked(body: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A posted config with masked keys (as GET /api/config showed them) given their stored
    values back."""
    try:
        stored = config_store.read_raw(settings.config_path)
    except (OSError, ConfigError):
        stored = settings.raw
    try:
        return unmask_config(body, stored)
    except MaskedUnknown as exc:
        raise ApiError(400, f"Config not saved: {exc}") from None


async def read_config_body(request: web.Request) -> dict[str, Any]:
    """The posted config: JSON, or JSON5 (comments, trailing commas) with `Content-Type:
    application/json5`, as the UI's raw editor may send. Either way it is stored as JSON. Any
    other type is a 415: an HTML form or a `fetch` that skips the CORS preflight can only send
    text/plain, urlencoded or multipart bodies."""
    if request.content_type not in CONFIG_TYPES:
        raise ApiError(415, f"Content-Type must be application/json (or application/json5), got "
                            f"{request.content_type!r}"[:200])
    raw = await read_body(request)  # within the body budget, like every request body
    if request.content_type != "application/json5":
        # A message body may carry a lone surrogate (it is mended); a config must not be
        # changed behind the user's back, and UTF-8 cannot store one: refuse it.
        if has_lone_surrogate_escape(raw):
            raise ApiError(400, "Invalid JSON in request body: a string holds a lone surrogate "
                                "(half of a UTF-16 pair), which a UTF-8 file cannot store")
        return parse_json_body(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "Invalid JSON5 in request body: not UTF-8") from None
    if not text.strip():
        raise ApiError(400, "Invalid JSON5 in request body: the body is empty")
    try:
        return parse_config_text(text, "request body")
    except ConfigError as exc:
        raise ApiError(400, f"Invalid JSON5, nothing saved: {exc}") from None


def refused(problems: Sequence[Problem]) -> ApiError:
    """A 400 for a config with problems: the message lists them all; `problems` gives each
    one's path too, so a form can show it next to its field."""
    error = ApiError(400, "Invalid config, nothing saved: " + describe(problems))
    error.details["problems"] = [{"path": p.path, "message": str(p)} for p in problems]
    return error


def _checked(admin: Admin, body: dict[str, Any], running: Settings) -> Settings:
    """The posted config parsed by the same model as start-up; a save refuses every problem,
    also the ones a load would skip (broken plugin entries), a config the next start could
    not read, and new references to files outside the config directory."""
    try:
        config_store.encode(body)  # first: a tree too deep for the reader is too deep to walk
    except config_store.Unreadable as exc:
        raise ApiError(400, f"Config not saved: the next start could not read it: {exc}") from None
    try:
        settings = admin.settings_for(body)
    except ConfigInvalid as exc:
        raise refused(exc.problems) from None
    except ConfigError as exc:
        raise ApiError(400, f"Config not saved: {exc}. The server keeps running with the current "
                            "config.") from None
    if settings.problems:
        raise refused(settings.problems)
    outside = admin_files.new_references_outside(body, running, admin.env)
    if outside:
        raise ApiError(400, "Config not saved: " + "; ".join(outside))
    return settings


@routes.post("/api/config")
async def save_config(request: web.Request) -> web.Response:
    app, admin = request.app, request.app[ADMIN]
    body = await asyncio.to_thread(restore_masked, await read_config_body(request), app[STATE].current.settings)
    checked = await asyncio.to_thread(_checked, admin, body, app[STATE].current.settings)
    async with admin.lock:  # build-write-swap is one step for concurrent POSTs
        try:
            snapshot = await asyncio.to_thread(build_snapshot, checked)
            settings = snapshot.settings
        except ConfigError as exc:
            raise ApiError(400, f"Config not saved: {exc}. The server keeps running with the "
                                "current config.") from None
        try:
            backup = await asyncio.to_thread(config_store.save, settings.config_path, body)
        except config_store.StoreError as exc:
            raise ApiError(500, f"Could not save the config: {exc}. The previous file is "
                                "unchanged and still in use.") from None
        notes = await apply(app, snapshot)
    admin.tell_others()
    warnings = config_store.router_warnings(settings.config) + restart_notes(admin, settings) + notes
    log.info("config_saved", config=str(settings.config_path), backup=str(backup) if backup else None,
             warnings=warnings)
    return web.json_response({"success": True, "message": "Config saved successfully",
                              "warnings": warnings})


@routes.get("/api/transformers")
async def list_transformers(request: web.Request) -> web.Response:
    registry = request.app[STATE].current.registry
    items = [{"name": name, "endpoint": "/v1/messages" if cls.endpoint == "/v1/messages" else None,
              "description": describe_transformer(name, cls.__doc__)} for name, cls in registry.names()]
    return web.json_response({"transformers": items})


async def _reload_or_400(app: web.Application, action: str) -> tuple[Snapshot, list[str]]:
    try:
        return await reload_with_notes(app)
    except ConfigError as exc:
        raise ApiError(400, f"{action}: the config file does not load: {exc}. The server keeps "
                            "running with the current config.") from None


@routes.post("/api/reload")
async def reload_config(request: web.Request) -> web.Response:
    snapshot, notes = await _reload_or_400(request.app, "Not reloaded")
    request.app[ADMIN].tell_others()
    warnings = restart_notes(request.app[ADMIN], snapshot.settings) + notes
    return web.json_response({"success": True, "message": "Config reloaded", "warnings": warnings})


@routes.post("/api/restart")
async def restart(request: web.Request) -> web.Response:
    # Check the saved config first: restarting into a config that cannot start would leave no
    # server at all. Reloading it here also makes it apply at once where no re-exec happens.
    await _reload_or_400(request.app, "Not restarting")
    restart_hook = request.app[ADMIN].restart
    if restart_hook is not None:
        # After this handler returns; the shutdown then waits for in-flight requests.
        asyncio.get_running_loop().call_soon(restart_hook)
    log.info("restart_requested", reexec=restart_hook is not None)
    return web.json_response({"success": True, "message": "Service restart initiated"})
