"""Request id, error shaping and authentication, outermost first."""

from __future__ import annotations

import secrets
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from .client_keys import CLIENT_KEY, matching_key
from .errors import ApiError, error_body
from .pipeline.fallback import route_headers
from .state import STATE

log = structlog.get_logger("ccr_aio.http")
REQUEST_ID = web.RequestKey("request_id", str)
_PUBLIC = ("/", "/health", "/api/hello")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.headers.get("x-request-id", "")[:64] or "req_" + secrets.token_hex(8)
    request[REQUEST_ID] = request_id
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        response = await handler(request)
        if not response.prepared:
            response.headers["request-id"] = request_id
        return response
    finally:
        structlog.contextvars.unbind_contextvars("request_id")


def _json_error(status: int, message: str, error_type: str | None = None) -> web.Response:
    return web.json_response(error_body(status, message, error_type), status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as `{"type":"error","error":{...}}`; tracebacks only go to the log."""
    try:
        return await handler(request)
    except ApiError as exc:
        _log_failure(request, exc.status, exc.message)
        body: dict[str, Any] = dict(exc.body())
        body["error"] = {**exc.body()["error"], **exc.details}
        response = web.json_response(body, status=exc.status)
        response.headers.update(exc.headers)  # a provider's retry-after, for the client to honour
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        if exc.status == 404:
            message = f"Not found: {request.method} {request.path}"
        elif exc.status == 405:
            message = f"Method {request.method} not allowed on {request.path}"
        elif exc.status == 413:
            message = f"Request body too large (limit {request.app._client_max_size} bytes)"
        _log_failure(request, exc.status, message)
        response = _json_error(exc.status, message)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except (ConnectionResetError, web.RequestPayloadError):
        raise
    except Exception:
        log.exception("unhandled_error", path=request.path)
        return _json_error(500, "Internal server error", "api_error")


async def add_route_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every /v1/messages answer (streamed or not, errors too) says which `provider,model`
    answered and after how many attempts (`x-ccr-route`, `x-ccr-attempts`)."""
    if request.path == "/v1/messages":
        response.headers.update(route_headers(request))


def _log_failure(request: web.Request, status: int, message: str) -> None:
    """Every 4xx and 5xx answer, with the reason the client is given (5xx as warnings)."""
    emit = log.warning if status >= 500 else log.info
    emit("request_failed", status=status, method=request.method, path=request.path,
         message=message[:500])


def _is_public(path: str) -> bool:
    return path in _PUBLIC or path == "/ui" or path.startswith("/ui/") or path.startswith("/static/")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[STATE].current.settings  # browsers: browser_guard.py, before this
    if not settings.apikey or _is_public(request.path):
        return await handler(request)
    supplied = request.headers.get("x-api-key")
    if supplied is None:
        bearer = request.headers.get("Authorization", "")
        if bearer[:7].lower() == "bearer ":
            supplied = bearer[7:].strip()
    if not supplied:
        raise ApiError(401, "APIKEY is missing")
    key = matching_key(supplied, settings.client_keys)
    if key is None:
        raise ApiError(401, "Invalid API key")
    if key.name:
        request[CLIENT_KEY] = key.name
    return await handler(request)
