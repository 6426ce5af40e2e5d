"""GET /v1/models: the configured `provider,model` pairs in Anthropic's model-list format.
Claude Code ≥ 2.1.126 asks the gateway for them to fill its `/model` picker."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from ..errors import ApiError
from ..state import STATE, Snapshot

routes = web.RouteTableDef()
DEFAULT_LIMIT, MAX_LIMIT = 20, 1000


def model_entries(snapshot: Snapshot) -> list[dict[str, Any]]:
    try:
        stamp = snapshot.settings.config_path.stat().st_mtime
    except OSError:
        stamp = 0.0
    created = datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        {"type": "model", "id": f"{p.name},{m}", "display_name": f"{m} ({p.name})", "created_at": created}
        for p in snapshot.providers.values()
        for m in p.models
    ]


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise ApiError(400, "limit must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, f"limit must be between 1 and {MAX_LIMIT}")
    return limit


@routes.get("/v1/models")
async def list_models(request: web.Request) -> web.Response:
    entries = model_entries(request.app[STATE].current)
    ids = [e["id"] for e in entries]
    limit = _limit(request.query.get("limit"))
    after, before = request.query.get("after_id"), request.query.get("before_id")
    if after is not None:
        start = ids.index(after) + 1 if after in ids else len(ids)
        page = entries[start:start + limit]
        has_more = start + limit < len(entries)
    elif before is not None:
        end = ids.index(before) if before in ids else 0
        page = entries[max(0, end - limit):end]
        has_more = end - limit > 0
    else:
        page = entries[:limit]
        has_more = limit < len(entries)
    return web.json_response({
        "data": page,
        "has_more": has_more,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
    })


@routes.get("/v1/models/{model_id}")
async def get_model(request: web.Request) -> web.Response:
    wanted = request.match_info["model_id"].lower()
    for entry in model_entries(request.app[STATE].current):
        if entry["id"].lower() == wanted:
            return web.json_response(entry)
    raise ApiError(404, f"Model '{request.match_info['model_id']}' not found")
