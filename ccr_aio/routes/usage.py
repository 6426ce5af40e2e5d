"""Reading the request records: GET /api/requests, /api/usage, /api/sessions/{session}, and
/metrics (Prometheus text). Authentication is the middleware's, as for the rest of /api.

Every query parameter is checked: an unknown name or a bad value is a 400 in the error shape,
never a silently empty answer. The reads first write what is still queued, so a request that
just ended is in the answer (the status line asks right after a turn).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from ..errors import ApiError
from ..pipeline.record_hooks import RECORDER
from ..records import UsageStore, parse_time
from ..records.queries import DEFAULT_LIMIT, FILTERS, MAX_LIMIT, group_keys, parse_cursor, status_clause

routes = web.RouteTableDef()
FLUSH_WAIT_S = 2.0  # a stuck disk must not hang a read: answer with what is written
SESSION_LIMIT = 20  # the latest records of a session that /api/sessions/{id} shows
MAX_OFFSET_MINUTES = 18 * 60
_REQUESTS_PARAMS = {"limit", "before", "status", *FILTERS}
_USAGE_PARAMS = {"group_by", "since", "until", "utc_offset", "latency", *FILTERS}
OFF = ("Request records are off (USAGE is false, or the usage file could not be opened: see "
       "the server log); /metrics still counts")


@routes.get("/api/requests")
async def list_requests(request: web.Request) -> web.Response:
    query = _checked(request.query, _REQUESTS_PARAMS)
    limit = _integer(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    _valid("before", query.get("before"), parse_cursor)
    _valid("status", query.get("status"), status_clause)
    store = await _fresh_store(request)
    page = await store.requests(limit=limit, before=query.get("before"), status=query.get("status"),
                                **_filters(query))
    return web.json_response(page)


@routes.get("/api/usage")
async def usage(request: web.Request) -> web.Response:
    query = _checked(request.query, _USAGE_PARAMS)
    group_by = query.get("group_by", "day")
    _valid("group_by", group_by, group_keys)
    offset = _integer(query, "utc_offset", 0, -MAX_OFFSET_MINUTES, MAX_OFFSET_MINUTES)
    since = _valid("since", query.get("since"), lambda v: parse_time(v, utc_offset_minutes=offset))
    until = _valid("until", query.get("until"),
                   lambda v: parse_time(v, end_of_day=True, utc_offset_minutes=offset))
    latency = _flag(query, "latency")
    store = await _fresh_store(request)
    summary = await store.usage(group_by, since=since, until=until, utc_offset_minutes=offset,
                                latency=latency, **_filters(query))
    return web.json_response(summary)


@routes.get("/api/sessions/{session}")
async def session(request: web.Request) -> web.Response:
    """One Claude Code session in one call (the status line's): its sums and latest records."""
    _checked(request.query, set())
    name = request.match_info["session"]
    store = await _fresh_store(request)
    total, latest = await asyncio.gather(
        store.usage("session", session=name),
        store.requests(limit=SESSION_LIMIT, session=name))
    return web.json_response({"session": name, "total": total["total"],
                              "requests": latest["requests"]})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body, content_type = request.app[RECORDER].metrics.render()
    return web.Response(body=body, headers={"Content-Type": content_type})


async def _fresh_store(request: web.Request) -> UsageStore:
    store = request.app[RECORDER].store
    if store is None:
        raise ApiError(404, OFF)
    try:
        async with asyncio.timeout(FLUSH_WAIT_S):
            await store.flush()
    except TimeoutError:
        pass
    return store


def _checked(query: MultiMapping[str], allowed: set[str]) -> MultiMapping[str]:
    unknown = sorted(set(query) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise ApiError(400, f"Unknown query parameter(s): {', '.join(unknown)} (known: {known})")
    repeated = sorted(name for name in set(query) if len(query.getall(name)) > 1)
    if repeated:
        raise ApiError(400, f"Query parameter(s) given more than once: {', '.join(repeated)}")
    return query


def _filters(query: Mapping[str, str]) -> dict[str, str | None]:
    """The equality filters; `model=provider,model` (as /api/usage names a model) is split."""
    filters: dict[str, str | None] = {name: query.get(name) or None for name in FILTERS}
    model = filters["model"]
    if model and "," in model and filters["provider"] is None:
        filters["provider"], filters["model"] = model.split(",", 1)
    return filters


def _integer(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number, got {text[:50]!r}") from None
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}, got {value}")
    return value


def _flag(query: Mapping[str, str], name: str) -> bool:
    text = query.get(name, "").lower()
    if text not in ("", "0", "1", "true", "false"):
        raise ApiError(400, f"{name} must be true or false, got {text[:50]!r}")
    return text in ("1", "true")


def _valid(name: str, value: str | None, check: Any) -> Any:
    """`check(value)`, with its ValueError as a 400 naming the parameter."""
    if value is None or value == "":
        return None
    try:
        return check(value)
    except ValueError as exc:
        raise ApiError(400, f"{name}: {exc}") from None
