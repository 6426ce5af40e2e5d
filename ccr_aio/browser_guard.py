"""What a web page in the user's browser may do to this server: nothing it did not load from it.

The server runs next to the user's browser and holds their provider keys; any page they visit
can send requests to 127.0.0.1. Every request, in every mode (first run included), passes:

1. **Host** names this server — `localhost`/`*.localhost`, an IP address, the configured
   `HOST`, or a name in `ALLOWED_HOSTS` — at any port. A page on a domain re-pointed at
   127.0.0.1 (DNS rebinding) is same-origin with its own domain and carries that domain here.
2. **Origin**, when a browser sends one, is this server as the client addressed it
   (`scheme://<Host>`), or a name in `ALLOWED_HOSTS` (a reverse proxy that rewrites Host).
   Browsers send it on every cross-origin fetch and on every POST, preflighted or not.
3. **Sec-Fetch-Site** `cross-site`/`same-site` (another site's page; ports do not count, so
   another local web app too) is refused, except a top-level GET navigation outside the APIs
   (a link to /ui/). That also stops `no-cors` loads of the page's own files — `<script src>`,
   `<img>` — which hold no secrets but tell a page that ccr-aio runs here, and which version.
4. With providers and no `APIKEY` only this machine's peers are answered (the server binds
   127.0.0.1 then; this also covers the moment between a first-run save and the rebind).

Every response also says `Cross-Origin-Resource-Policy: same-origin` and `nosniff`, for
browsers that send no Sec-Fetch headers. Refusals are 403 in the usual error shape.
"""

from __future__ import annotations

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiMapping

from .config.hosts import WILDCARD_BINDS, host_name, is_ip, is_loopback_address, is_loopback_name
from .errors import ApiError
from .settings import Settings
from .state import STATE

log = structlog.get_logger("ccr_aio.http")
OTHER_SITES = ("cross-site", "same-site")
API_PREFIXES = ("/api/", "/v1/")
RESPONSE_HEADERS = {"Cross-Origin-Resource-Policy": "same-origin", "X-Content-Type-Options": "nosniff"}


def known_names(settings: Settings) -> frozenset[str]:
    """Names besides loopback names and addresses that name this server."""
    hosts = (settings.host, settings.config.host or "")
    named = {name for name in (host_name(h) for h in hosts) if name and name not in WILDCARD_BINDS}
    return frozenset(named | set(settings.config.allowed_hosts))


def names_this_server(host: str, settings: Settings) -> bool:
    name = host_name(host)
    return name is not None and (is_loopback_name(name) or is_ip(name) or name in known_names(settings))


def refusal(method: str, path: str, headers: MultiMapping[str], remote: str | None, settings: Settings) -> str | None:
    """Why this request may not be answered, or None. No Host at all is an HTTP/1.0 client
    (aiohttp refuses HTTP/1.1 without one), never a browser."""
    hosts = headers.getall("Host", [])
    if len(hosts) > 1:
        return "More than one Host header"
    host = hosts[0] if hosts else None
    if host is not None and not names_this_server(host, settings):
        return (f"Host {host[:100]!r} does not name this server: use localhost or an IP address, "
                "or add the name to ALLOWED_HOSTS")
    origin = headers.get("Origin")
    if origin is not None and not _our_origin(origin, host, settings.config.allowed_hosts):
        return f"Origin {origin[:100]!r} is not allowed: cross-origin requests are refused"
    site = headers.get("Sec-Fetch-Site", "").lower()
    if site in OTHER_SITES and not _plain_navigation(method, path, headers):
        return f"Requests from another site ({site}) are refused"
    if settings.config.providers and not settings.apikey and remote and not is_loopback_address(remote):
        return "This server has no APIKEY, so it only answers requests from this machine"
    return None


def _our_origin(origin: str, host: str | None, allowed: tuple[str, ...]) -> bool:
    scheme, sep, authority = origin.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or "/" in authority:
        return False  # "null" (sandboxed frames, file:, some redirects) included
    if host is not None and authority.lower() == host.strip().lower():
        return True
    return host_name(authority) in allowed


def _plain_navigation(method: str, path: str, headers: MultiMapping[str]) -> bool:
    return (headers.get("Sec-Fetch-Mode", "").lower() == "navigate" and method in ("GET", "HEAD")
            and not path.startswith(API_PREFIXES) and path != "/api")


@web.middleware
async def browser_guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    reason = refusal(request.method, request.path, request.headers, request.remote,
                     request.app[STATE].current.settings)
    if reason is not None:
        # Said in the log too: a client reaching the server by a name not yet in ALLOWED_HOSTS
        # is an operator's problem to see.
        log.warning("request_refused", reason=reason, method=request.method, path=request.path[:200])
        raise ApiError(403, reason)
    return await handler(request)


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in RESPONSE_HEADERS.items():
        response.headers.setdefault(name, value)


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(_add_headers)
