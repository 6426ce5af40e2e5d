"""Decide `provider,model` for a request, in Claude Code Router's precedence:

custom router → explicit `provider,model` (or a `/model` picker id) → image → long context →
subagent tag → Router.subagent (any other subagent request) → background (claude + haiku) →
web search → think (the user asked for deeper thinking; `Router.thinkWhen: "thinking"`: any
request with thinking on, CCR's rule) → default.

The per-project / per-session Router (if any) is laid over the global one first. Token
counting is skipped when no rule needs it, or when the body is too small for any rule to fire.
`decide()` gets what it needs from the current config as one `Routing` value (the app's
snapshot holds it), so routing does not depend on the app state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import structlog

from ..config import ROUTER_SCENARIOS, RouterConfig, RouterScenario
from ..errors import ApiError
from ..providers import Provider, find
from .custom import CustomRouter, call_custom_router
from .model_ids import read_picker_id
from .prompt import last_user_message_has_images, take_subagent_tag
from .sessions import Sessions, session_id
from .signals import asked_for_thinking, has_thinking, is_subagent
from .tokens import TokenCounter

log = structlog.get_logger("ccr_aio.routing")
LONG_SESSION_MIN_TOKENS = 20_000  # "previous turn was long" only applies above this
# Why a route was chosen: a Router scenario, or one of the rules that need no Router entry.
Scenario = Literal[RouterScenario, "explicit", "subagent", "model", "custom", "imageAgent"]


@dataclass(frozen=True)
class Routing:
    """What routing needs from one config version (built with the app's snapshot)."""

    router: RouterConfig
    providers: Mapping[str, Provider]  # keyed by lower-cased name
    home: Path  # where project and session Router files live
    custom: CustomRouter | None = None
    # The interpolated config as a plain dict: what a custom router receives (CCR's contract).
    custom_config: dict[str, Any] = field(default_factory=dict)
    force_image_agent: bool = False


@dataclass(frozen=True)
class Route:
    provider: Provider
    model: str
    scenario: Scenario
    token_count: int | None = None
    session: str | None = None
    project: str | None = None

    @property
    def label(self) -> str:
        return f"{self.provider.name},{self.model}"


def resolve(providers: Mapping[str, Provider], pair: str, scenario: str) -> tuple[Provider, str]:
    """`provider,model` (case-insensitive) → the configured provider and model spelling, or 400."""
    provider, _, model = pair.partition(",")
    found = find(providers, provider.strip(), model.strip())
    if found is None:
        raise ApiError(400, f"Unknown provider/model '{pair}' ({scenario}): not in Providers")
    return found


def _bare_model(providers: Mapping[str, Provider], model: str) -> str | None:
    for provider in providers.values():
        spelled = provider.find_model(model)
        if spelled:
            return f"{provider.name},{spelled}"
    return None


def _wants_think(body: Mapping[str, Any], router: RouterConfig) -> bool:
    return has_thinking(body) if router.think_rule == "thinking" else asked_for_thinking(body)


def _has_web_search(body: Mapping[str, Any]) -> bool:
    tools = body.get("tools")
    return isinstance(tools, list) and any(
        isinstance(t, dict) and str(t.get("type", "")).startswith("web_search") for t in tools
    )


def builtin_choice(
    body: dict[str, Any],
    router: RouterConfig,
    token_count: int | None,
    previous_tokens: int | None,
    subagent: str | None,
    force_image_agent: bool = False,
    headers: Mapping[str, str] | None = None,
) -> tuple[Scenario, str | None]:
    """(scenario, "provider,model") by the built-in rules; the pair is None when unset."""
    requested = body.get("model")
    model = requested if isinstance(requested, str) else ""
    picked = read_picker_id(model)
    if picked is not None:  # chosen in Claude Code's /model picker: exactly that
        if picked.scenario is not None:
            return picked.scenario, router.pair(picked.scenario)
        return "explicit", picked.pair
    if "," in model:
        return "explicit", model
    if router.image and not force_image_agent and last_user_message_has_images(body):
        return "image", router.image
    if router.long_context and token_count is not None:
        threshold = router.threshold
        previous_long = (previous_tokens or 0) > threshold and token_count > LONG_SESSION_MIN_TOKENS
        if token_count > threshold or previous_long:
            return "longContext", router.long_context
    if subagent:
        return "subagent", subagent
    if router.subagent and is_subagent(body, headers or {}):
        return "subagent", router.subagent
    lowered = model.lower()
    if router.background and "claude" in lowered and "haiku" in lowered:
        return "background", router.background
    if router.web_search and _has_web_search(body):
        return "webSearch", router.web_search
    if router.think and _wants_think(body, router):
        return "think", router.think
    return "default", router.default


async def _token_count(
    body: dict[str, Any], body_size: int, router: RouterConfig, previous: int | None,
    tokens: TokenCounter, needed: bool,
) -> int | None:
    if not (needed or router.long_context):
        return None
    threshold = router.threshold
    floor = LONG_SESSION_MIN_TOKENS if (previous or 0) > threshold else threshold
    # Tokens never outnumber the bytes of the JSON body: a small body cannot be "long".
    if not needed and body_size <= floor:
        return None
    return await tokens.count_async(body, stop_above=None if needed else floor)


async def decide(
    body: dict[str, Any],
    headers: Mapping[str, str],
    routing: Routing,
    sessions: Sessions,
    tokens: TokenCounter,
    body_size: int,
) -> Route:
    router = routing.router
    session = session_id(body, headers)
    project = await sessions.project_of(session) if session else None
    if project:
        override = await sessions.project_router(routing.home, project, session or "")
        if override:
            router = router.overlay(override)
    subagent = take_subagent_tag(body)
    previous = sessions.usage.get(session) if session else None
    custom = routing.custom
    token_count = await _token_count(body, body_size, router, previous, tokens, needed=custom is not None)
    scenario, pair = builtin_choice(body, router, token_count, previous, subagent, routing.force_image_agent, headers)
    if scenario == "default" and isinstance(body.get("model"), str):
        pair = _bare_model(routing.providers, body["model"]) or pair
        scenario = "model" if pair != router.default else scenario
    if custom is not None:
        context = {"token_count": token_count, "session_id": session, "project": project, "scenario": scenario}
        chosen = await call_custom_router(custom, body, routing.custom_config, context)
        if chosen:
            try:
                provider, model = resolve(routing.providers, chosen, "custom")
                return Route(provider, model, "custom", token_count, session, project)
            except ApiError as exc:
                log.error("custom_router_unknown_model", model=chosen, error=exc.message)
    if not isinstance(pair, str) or not pair:
        key = scenario if scenario in ROUTER_SCENARIOS else "default"
        raise ApiError(400, f"No route for this request ({scenario}): set Router.{key} to 'provider,model'")
    provider, model = resolve(routing.providers, pair, scenario)
    return Route(provider, model, scenario, token_count, session, project)
