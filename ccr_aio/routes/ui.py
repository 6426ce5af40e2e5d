"""The management UI: GET /ui → /ui/, GET /ui/ (a Jinja2 page), and /static/* assets.

The page is public (the auth middleware lets /ui* and /static/* through), so it holds no config
data and no secrets: the JS in static/ loads everything from /api/*, sending the APIKEY the user
typed (kept in the browser's localStorage) as `x-api-key`.

The templates and static files live in the top-level `templates/` and `static/` folders of the
repository, found next to the package (a checkout or `pip install -e .`), in
`<prefix>/share/ccr-aio` (a wheel install), or in the folder named by the env `CCR_UI_DIR`
(which holds `templates/` and `static/`). Without them the server still
runs; /ui/ then answers 404 saying where it looked.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import aiohttp_jinja2
import jinja2
import structlog
from aiohttp import web

from .. import __version__
from ..errors import ApiError

routes = web.RouteTableDef()
log = structlog.get_logger("ccr_aio.ui")
UI_DIR_ENV = "CCR_UI_DIR"
UI_AVAILABLE = web.AppKey("ui_available", bool)
UI_ROOT = web.AppKey("ui_root", Path)
STATIC_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")  # the folder is flat: a bare file name

# The page only loads its own files and only talks to its own origin. No inline script or
# style is allowed, so a value that slipped into the DOM as markup still could not run.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

# The Settings tab's fields: (config key, label, kind: str|int|bool|list|level, help).
SETTING_FIELDS = (
    ("APIKEY", "API key (APIKEY)", "str", "Clients and this page must send it (x-api-key or Bearer). Shown masked; "
     "a masked value saved back keeps the stored key."),
    ("HOST", "Listen address (HOST)", "str", "127.0.0.1 by default; another address needs an APIKEY."),
    ("PORT", "Port (PORT)", "int", "3456 by default."),
    ("API_TIMEOUT_MS", "Provider timeout, ms (API_TIMEOUT_MS)", "int", "How long to wait for a provider."),
    ("PROXY_URL", "Proxy URL (PROXY_URL)", "str", "An http(s) proxy for requests to providers."),
    ("ALLOWED_HOSTS", "Allowed host names (ALLOWED_HOSTS)", "list",
     "Comma-separated names browsers may use to reach this server, besides its address."),
    ("CUSTOM_ROUTER_PATH", "Custom router (CUSTOM_ROUTER_PATH)", "str", "A JavaScript/Python router file."),
    ("REWRITE_SYSTEM_PROMPT", "System prompt file (REWRITE_SYSTEM_PROMPT)", "str",
     "A file whose text replaces Claude Code's system prompt."),
    ("LOG_LEVEL", "Log level (LOG_LEVEL)", "level", "How much the server log keeps."),
    ("LOG", "Write log files (LOG)", "bool", "Off: no log files at all."),
    ("forceUseImageAgent", "Force the image agent (forceUseImageAgent)", "bool",
     "Describe images with the Image model for models that cannot see."),
)

ROUTER_ROWS = (  # (key, label, when it is used) — rendered server-side, filled by the JS
    ("default", "Default", "every request no other rule picks"),
    ("background", "Background", "requests for a claude…haiku model (Claude Code's background tasks)"),
    ("think", "Think", "turns where the user asked for deeper thinking (ultrathink, a raised /effort)"),
    ("longContext", "Long context", "requests over the long-context threshold"),
    ("webSearch", "Web search", "requests that carry a web_search tool"),
    ("image", "Image", "requests with images (the image agent)"),
    ("subagent", "Subagent", "Claude Code subagents (Agent tool) without a <CCR-SUBAGENT-MODEL> tag"),
)


def ui_root(env: Mapping[str, str] = os.environ) -> Path:
    """The folder holding `templates/` and `static/`: `CCR_UI_DIR`, else the repository root
    (a checkout or `pip install -e .`), else `<prefix>/share/ccr-aio` (a wheel install copies
    them there, see setup.cfg's data_files)."""
    override = env.get(UI_DIR_ENV)
    if override:
        return Path(override).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[2]  # ccr_aio/routes/ui.py → the repository
    if (checkout / "templates").is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "ccr-aio"


def setup(app: web.Application) -> None:
    """Jinja2 templates, the /static/ route and the /ui routes."""
    root = ui_root()
    templates, static = root / "templates", root / "static"
    available = (templates / "ui.html").is_file() and static.is_dir()
    app[UI_AVAILABLE], app[UI_ROOT] = available, root
    if available:
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(templates)), autoescape=True)
    else:
        log.warning("ui_files_missing", looked_in=str(root), hint=f"set {UI_DIR_ENV}")
    app.add_routes(routes)


def static_file(root: Path, name: str) -> Path | None:
    """The asset `name` names: a bare file name of a regular file directly in `static/`, else
    None. No separators (`/`, `\\`), no dot-files, no symlinks leading out."""
    if not STATIC_NAME.match(name):
        return None
    folder = root / "static"
    path = folder / name
    try:
        real = path.resolve()
        return real if real.parent == folder.resolve() and real.is_file() else None
    except OSError:  # a name too long, a loop: not one of ours either way
        return None


@routes.get("/static/{name:.*}")
async def static_asset(request: web.Request) -> web.StreamResponse:
    path = await asyncio.to_thread(static_file, request.app[UI_ROOT], request.match_info["name"])
    if path is None or not request.app[UI_AVAILABLE]:
        raise ApiError(404, f"Not found: {request.method} {request.path}"[:300])
    return web.FileResponse(path)


@routes.get("/ui")
async def ui_redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/ui/")


@routes.get("/ui/")
async def ui_page(request: web.Request) -> web.StreamResponse:
    if not request.app[UI_AVAILABLE]:
        raise ApiError(404, f"Web UI files not found in {request.app[UI_ROOT]} (templates/ui.html and "
                            f"static/); set {UI_DIR_ENV} to the folder that holds them")
    # Only constants go into the page: it is served without authentication.
    response = aiohttp_jinja2.render_template(
        "ui.html", request, {"version": __version__, "router_rows": ROUTER_ROWS, "setting_fields": SETTING_FIELDS})
    response.headers.update(PAGE_HEADERS)
    return response
