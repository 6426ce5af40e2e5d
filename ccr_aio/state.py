"""App state: one immutable `Snapshot` per config version, swapped as a whole on reload."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from aiohttp import web

from .plugins import load_plugins, plugin_hint
from .providers import Provider, build_providers
from .routing.custom import CustomRouter, load_custom_router, load_system_prompt
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
    custom_router: CustomRouter | None = None
    system_prompt: str | None = None  # REWRITE_SYSTEM_PROMPT text

    def find(self, provider: str, model: str) -> tuple[Provider, str] | None:
        """(provider, configured model spelling) for a case-insensitive `provider,model`."""
        found = self.providers.get(provider.lower())
        if found is None:
            return None
        spelled = found.find_model(model)
        return (found, spelled) if spelled else None


def build_snapshot(settings: Settings, registry: Registry | None = None) -> Snapshot:
    registry, plugin_errors = load_plugins(settings, registry or BUILTINS)
    for error in plugin_errors:
        log.error("transformer_plugin_failed", error=error)
    with plugin_hint(plugin_errors):  # "unknown transformer" also says which plugin failed, and why
        providers = build_providers(settings, registry)
    return Snapshot(
        settings=settings,
        registry=registry,
        providers=providers,
        endpoint=registry.create("anthropic"),
        custom_router=load_custom_router(settings.config.get("CUSTOM_ROUTER_PATH")),
        system_prompt=load_system_prompt(settings.config.get("REWRITE_SYSTEM_PROMPT")),
    )


class StateRef:
    """The current snapshot; `app[STATE].current` is replaced, never mutated."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.current = snapshot


STATE = web.AppKey("state", StateRef)
