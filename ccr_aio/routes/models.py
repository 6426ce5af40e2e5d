"""GET /v1/models: the configured `provider,model` pairs in Anthropic's model-list format.

Claude Code asks for them to fill its `/model` picker (with
`CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1`), but keeps only ids that contain "claude" or
"anthropic": Claude Code (its User-Agent says so) therefore gets picker ids
(`ccr-claude/provider,model`, and `ccr-claude/<scenario>` for each Router entry that is set; see
`routing/model_ids.py`), with the context window in the description. Other clients get the
plain pairs.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from ..config import ROUTER_SCENARIOS, ModelCapabilities
from ..errors import ApiError
from ..routing.model_ids import picker_id, read_picker_id
from ..state import STATE, Snapshot

routes = web.RouteTableDef()
DEFAULT_LIMIT, MAX_LIMIT = 20, 1000


CLAUDE_CODE_AGENTS = ("claude-code/", "claude-cli/")


def is_claude_code(request: web.Request) -> bool:
    return request.headers.get("User-Agent", "").lower().startswith(CLAUDE_CODE_AGENTS)


def model_entries(snapshot: Snapshot, for_picker: bool = False) -> list[dict[str, Any]]:
    try:
        stamp = snapshot.settings.config_path.stat().st_mtime
    except OSError:
        stamp = 0.0
    created = datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not for_picker:
        return [
            {"type": "model", "id": f"{p.name},{m}", "display_name": f"{m} ({p.name})", "created_at": created}
            for p in snapshot.providers.values()
            for m in p.models
        ]
    entries = []
    router = snapshot.settings.config.router
    for scenario in ROUTER_SCENARIOS:
        pair = router.pair(scenario)
        if pair:
            about = f"follows Router.{scenario} in the config"
            entries.append(_picker_entry(scenario, f"Router {scenario}: {pair}", about, snapshot, pair, created))
    for provider in snapshot.providers.values():
        for model in provider.models:
            pair = f"{provider.name},{model}"
            entries.append(_picker_entry(pair, f"{model} ({provider.name})", pair, snapshot, pair, created))
    return entries


def _picker_entry(target: str, name: str, about: str, snapshot: Snapshot, pair: str, created: str) -> dict[str, Any]:
    provider, _, model = pair.partition(",")
    found = snapshot.providers.get(provider.strip().lower())
    known = found.capabilities(model.strip()) if found else ModelCapabilities()
    limits = [f"{_tokens(known.context_window)} context"] if known.context_window else []
    limits += [f"{_tokens(known.max_output_tokens)} output"] if known.max_output_tokens else []
    return {"type": "model", "id": picker_id(target), "display_name": name,
            "description": " · ".join([about, *limits]), "created_at": created}


def _tokens(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1_000_000:.3g}M"
    return f"{round(count / 1000)}k" if count >= 1000 else str(count)


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
    entries = model_entries(request.app[STATE].current, for_picker=is_claude_code(request))
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
    picker = read_picker_id(wanted) is not None
    for entry in model_entries(request.app[STATE].current, for_picker=picker):
        if entry["id"].lower() == wanted:
            return web.json_response(entry)
    raise ApiError(404, f"Model '{request.match_info['model_id']}' not found")
