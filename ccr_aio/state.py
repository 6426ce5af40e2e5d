"""App state: one immutable `Snapshot` per config version, swapped as a whole on reload."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import web

from .routing.tokens import TokenCounter
from .providers import Provider, build_providers
from .settings import Settings
from .transformers import BUILTINS, Registry, Transformer


@dataclass(frozen=True)
class Snapshot:
    """Everything a request needs from the config; a request reads it once at its start."""

    settings: Settings
    registry: Registry
    providers: dict[str, Provider]
    endpoint: Transformer  # the `/v1/messages` endpoint transformer

    def find(self, provider: str, model: str) -> tuple[Provider, str] | None:
        """(provider, configured model spelling) for a case-insensitive `provider,model`."""
        found = self.providers.get(provider.lower())
        if found is None:
            return None
        spelled = found.find_model(model)
        return (found, spelled) if spelled else None


def build_snapshot(settings: Settings, registry: Registry | None = None) -> Snapshot:
    registry = registry or BUILTINS
    return Snapshot(
        settings=settings,
        registry=registry,
        providers=build_providers(settings, registry),
        endpoint=registry.create("anthropic"),
    )


class StateRef:
    """The current snapshot; `app[STATE].current` is replaced, never mutated."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.current = snapshot


STATE = web.AppKey("state", StateRef)
HTTP = web.AppKey("http", aiohttp.ClientSession)
TOKENS = web.AppKey("tokens", TokenCounter)
