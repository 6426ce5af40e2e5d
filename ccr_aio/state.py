"""App state: one immutable `Snapshot` per config version, swapped as a whole on reload."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from aiohttp import web

from .pipeline.fallback import Upstreams
from .plugins import load_plugins, plugin_hint
from .providers import Provider, build_providers
from .routing.custom import load_custom_router, load_system_prompt
from .routing.router import Routing
from .settings import Settings
from .transformers import BUILTINS, Registry, Transformer

log = structlog.get_logger("ccr_aio.state")


@dataclass(frozen=True)
class Snapshot:
    """Everything a request needs from the config; a request reads it once at its start."""

    settings: Settings
    registry: Registry
    providers: dict[str, Provider]
    endpoint: Transformer  # the `/v1/messages` endpoint transformer
    routing: Routing  # what `routing.router.decide` needs
    upstreams: Upstreams  # what the upstream calls need (providers, key pools, fallback lists)
    system_prompt: str | None = None  # REWRITE_SYSTEM_PROMPT text


def build_snapshot(settings: Settings, registry: Registry | None = None) -> Snapshot:
    registry, plugin_errors = load_plugins(settings, registry or BUILTINS)
    for error in plugin_errors:
        log.error("transformer_plugin_failed", error=error)
    with plugin_hint(plugin_errors):  # "unknown transformer" also says which plugin failed, and why
        providers = build_providers(settings, registry)
    config = settings.config
    routing = Routing(
        router=config.router,
        providers=providers,
        home=settings.home,
        custom=load_custom_router(config.custom_router_path),
        custom_config=settings.interpolated,
        force_image_agent=config.force_image_agent,
    )
    endpoint = registry.create("anthropic")
    return Snapshot(
        settings=settings,
        registry=registry,
        providers=providers,
        endpoint=endpoint,
        routing=routing,
        upstreams=Upstreams.build(settings, endpoint, providers),
        system_prompt=load_system_prompt(config.rewrite_system_prompt),
    )


class StateRef:
    """The current snapshot; `app[STATE].current` is replaced, never mutated."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.current = snapshot


STATE = web.AppKey("state", StateRef)
