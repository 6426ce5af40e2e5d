"""Decide `provider,model` for a request, in Claude Code Router's precedence:

custom router → explicit `provider,model` → image → long context → subagent tag →
background (claude + haiku) → web search → think → default.

The per-project / per-session Router (if any) is laid over the global one first. Token
counting is skipped when no rule needs it, or when the body is too small for any rule to fire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from ..errors import ApiError
from ..providers import Provider
from ..state import Snapshot
from .custom import call_custom_router
from .prompt import last_user_message_has_images, take_subagent_tag
from .sessions import Sessions, session_id
from .tokens import TokenCounter

log = structlog.get_logger("ccr_aio.routing")
DEFAULT_LONG_CONTEXT_THRESHOLD = 60_000
LONG_SESSION_MIN_TOKENS = 20_000  # "previous turn was long" only applies above this


@dataclass(frozen=True)
class Route:
    provider: Provider
    model: str
    scenario: str
    token_count: int | None = None
    session: str | None = None
    project: str | None = None

    @property
    def label(self) -> str:
        return f"{self.provider.name},{self.model}"


def resolve(snapshot: Snapshot, pair: str, scenario: str) -> tuple[Provider, str]:
    """`provider,model` (case-insensitive) → the configured provider and model spelling, or 400."""
    provider, _, model = pair.partition(",")
    found = snapshot.find(provider.strip(), model.strip())
    if found is None:
        raise ApiError(400, f"Unknown provider/model '{pair}' ({scenario}): not in Providers")
    return found


def _bare_model(snapshot: Snapshot, model: str) -> str | None:
    for provider in snapshot.providers.values():
        spelled = provider.find_model(model)
        if spelled:
            return f"{provider.name},{spelled}"
    return None


def _wants_thinking(body: Mapping[str, Any]) -> bool:
    thinking = body.get("thinking")
    return bool(thinking) and not (isinstance(thinking, dict) and thinking.get("type") == "disabled")


def _has_web_search(body: Mapping[str, Any]) -> bool:
    tools = body.get("tools")
    return isinstance(tools, list) and any(
        isinstance(t, dict) and str(t.get("type", "")).startswith("web_search") for t in tools
    )


def builtin_choice(
    body: dict[str, Any],
    router: Mapping[str, Any],
    token_count: int | None,
    previous_tokens: int | None,
    subagent: str | None,
    force_image_agent: bool = False,
) -> tuple[str, str | None]:
    """(scenario, "provider,model") by the built-in rules; the pair is None when unset."""
    model = body.get("model") if isinstance(body.get("model"), str) else ""
    if "," in model:
        return "explicit", model
    if router.get("image") and not force_image_agent and last_user_message_has_images(body):
        return "image", router["image"]
    if router.get("longContext") and token_count is not None:
        threshold = int(router.get("longContextThreshold") or DEFAULT_LONG_CONTEXT_THRESHOLD)
        previous_long = (previous_tokens or 0) > threshold and token_count > LONG_SESSION_MIN_TOKENS
        if token_count > threshold or previous_long:
            return "longContext", router["longContext"]
    if subagent:
        return "subagent", subagent
    lowered = model.lower()
    if router.get("background") and "claude" in lowered and "haiku" in lowered:
        return "background", router["background"]
    if router.get("webSearch") and _has_web_search(body):
        return "webSearch", router["webSearch"]
    if router.get("think") and _wants_thinking(body):
        return "think", router["think"]
    return "default", router.get("default")


async def _token_count(
    body: dict[str, Any], body_size: int, router: Mapping[str, Any], previous: int | None,
    tokens: TokenCounter, needed: bool,
) -> int | None:
    if not (needed or router.get("longContext")):
        return None
    threshold = int(router.get("longContextThreshold") or DEFAULT_LONG_CONTEXT_THRESHOLD)
    floor = LONG_SESSION_MIN_TOKENS if (previous or 0) > threshold else threshold
    # Tokens never outnumber the bytes of the JSON body: a small body cannot be "long".
    if not needed and body_size <= floor:
        return None
    return await tokens.count_async(body, stop_above=None if needed else floor)


async def decide(
    body: dict[str, Any],
    headers: Mapping[str, str],
    snapshot: Snapshot,
    sessions: Sessions,
    tokens: TokenCounter,
    body_size: int,
) -> Route:
    settings = snapshot.settings
    router: Mapping[str, Any] = settings.router
    session = session_id(body, headers)
    project = await sessions.project_of(session) if session else None
    if project:
        override = await sessions.project_router(settings.home, project, session or "")
        if override:
            router = {**router, **override}
    subagent = take_subagent_tag(body)
    previous = sessions.usage.get(session) if session else None
    custom = snapshot.custom_router
    token_count = await _token_count(body, body_size, router, previous, tokens, needed=custom is not None)
    scenario, pair = builtin_choice(
        body, router, token_count, previous, subagent, bool(settings.config.get("forceUseImageAgent"))
    )
    if scenario == "default" and isinstance(body.get("model"), str):
        pair = _bare_model(snapshot, body["model"]) or pair
        scenario = "model" if pair != router.get("default") else scenario
    if custom is not None:
        context = {"token_count": token_count, "session_id": session, "project": project, "scenario": scenario}
        chosen = await call_custom_router(custom, body, settings.config, context)
        if chosen:
            try:
                provider, model = resolve(snapshot, chosen, "custom")
                return Route(provider, model, "custom", token_count, session, project)
            except ApiError as exc:
                log.error("custom_router_unknown_model", model=chosen, error=exc.message)
    if not isinstance(pair, str) or not pair:
        raise ApiError(400, f"No route for this request ({scenario}): set Router.default to 'provider,model'")
    provider, model = resolve(snapshot, pair, scenario)
    return Route(provider, model, scenario, token_count, session, project)
