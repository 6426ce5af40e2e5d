"""The provider table: CCR provider entries with their transformer chains instantiated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .settings import ConfigError, Settings
from .transformers.base import Registry, Transformer


@dataclass(frozen=True)
class Provider:
    name: str
    api_base_url: str
    api_key: str = ""
    models: tuple[str, ...] = ()
    chain: tuple[Transformer, ...] = ()
    model_chains: dict[str, tuple[Transformer, ...]] = field(default_factory=dict)
    entry: dict[str, Any] = field(default_factory=dict)

    def find_model(self, model: str) -> str | None:
        """The configured spelling of `model` (case-insensitive), or None."""
        lowered = model.lower()
        return next((m for m in self.models if m.lower() == lowered), None)

    def model_chain(self, model: str) -> tuple[Transformer, ...]:
        return self.model_chains.get(model, ())


def parse_use(use: Any, registry: Registry, where: str) -> tuple[Transformer, ...]:
    """`use: ["name", ["name", {options}], ...]` -> fresh instances, one per entry."""
    if use is None:
        return ()
    if not isinstance(use, list):
        raise ConfigError(f"{where}: transformer 'use' must be a list")
    chain = []
    for item in use:
        if isinstance(item, str):
            name, options = item, None
        elif isinstance(item, list) and item and isinstance(item[0], str):
            name = item[0]
            options = item[1] if len(item) > 1 and isinstance(item[1], dict) else None
        else:
            raise ConfigError(f"{where}: bad transformer entry {item!r}")
        try:
            chain.append(registry.create(name, options))
        except KeyError:
            raise ConfigError(f"{where}: unknown transformer '{name}'") from None
    return tuple(chain)


def build_provider(entry: dict[str, Any], registry: Registry) -> Provider:
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"provider without a name: {sorted(entry)}")
    url = entry.get("api_base_url") or entry.get("baseUrl") or entry.get("baseurl")
    if not isinstance(url, str) or not url:
        raise ConfigError(f"provider '{name}': api_base_url is required")
    models = entry.get("models") or []
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise ConfigError(f"provider '{name}': models must be a list of strings")
    spec = entry.get("transformer") or {}
    if not isinstance(spec, dict):
        raise ConfigError(f"provider '{name}': transformer must be an object")
    chain = parse_use(spec.get("use"), registry, f"provider '{name}'")
    model_chains = {
        model: parse_use(value.get("use"), registry, f"provider '{name}' model '{model}'")
        for model, value in spec.items()
        if model != "use" and isinstance(value, dict)
    }
    return Provider(
        name=name,
        api_base_url=url,
        api_key=str(entry.get("api_key") or entry.get("apiKey") or ""),
        models=tuple(models),
        chain=chain,
        model_chains=model_chains,
        entry=entry,
    )


def build_providers(settings: Settings, registry: Registry) -> dict[str, Provider]:
    """Provider table keyed by lower-cased name; any bad entry is a start-up error."""
    table: dict[str, Provider] = {}
    for entry in settings.providers:
        if not isinstance(entry, dict):
            raise ConfigError(f"{settings.config_path}: each provider must be an object")
        try:
            provider = build_provider(entry, registry)
        except ConfigError as exc:
            raise ConfigError(f"{settings.config_path}: {exc}") from None
        table[provider.name.lower()] = provider
    return table
