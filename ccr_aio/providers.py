"""The provider table: configured providers with their transformer chains instantiated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .config import (
    ConfigError,
    ConfigInvalid,
    ModelCapabilities,
    ProviderConfig,
    TransformerUse,
    model_capabilities,
    parse_provider_config,
)
from .settings import Settings
from .transformers.base import Registry, Transformer


@dataclass(frozen=True)
class Provider:
    name: str
    api_base_url: str
    api_key: str = ""  # the key a call uses: the first of the pool unless `with_key` chose one
    models: tuple[str, ...] = ()
    chain: tuple[Transformer, ...] = ()
    model_chains: dict[str, tuple[Transformer, ...]] = field(default_factory=dict)
    config: ProviderConfig | None = None  # what it was built from (None when made by hand)
    api_keys: tuple[str, ...] = ()  # the configured key pool (one key, or several)

    def find_model(self, model: str) -> str | None:
        """The configured spelling of `model` (case-insensitive), or None."""
        lowered = model.lower()
        return next((m for m in self.models if m.lower() == lowered), None)

    def model_chain(self, model: str) -> tuple[Transformer, ...]:
        return self.model_chains.get(model, ())

    def with_key(self, index: int) -> Provider:
        """This provider calling with key `index` of its pool: transformers and the upstream
        call read `api_key`, so they need not know about pools."""
        return replace(self, api_key=self.api_keys[index])

    def capabilities(self, model: str) -> ModelCapabilities:
        """Context window, longest answer and reasoning of `model`: this provider's
        `capabilities` entry over the built-in table."""
        return model_capabilities(self.config, model)


def find(providers: Mapping[str, Provider], provider: str, model: str) -> tuple[Provider, str] | None:
    """(provider, configured model spelling) for a case-insensitive `provider,model`."""
    found = providers.get(provider.lower())
    if found is None:
        return None
    spelled = found.find_model(model)
    return (found, spelled) if spelled else None


def build_chain(use: tuple[TransformerUse, ...], registry: Registry, where: str) -> tuple[Transformer, ...]:
    """Fresh transformer instances for a `use` list, one per entry."""
    chain = []
    for entry in use:
        try:
            chain.append(registry.create(entry.name, entry.fresh_options()))
        except KeyError:
            raise ConfigError(f"{where}: unknown transformer {entry.name!r}") from None
    return tuple(chain)


def build_provider(spec: ProviderConfig | Mapping[str, Any], registry: Registry) -> Provider:
    """A provider from its config (a raw entry is parsed by the config model first)."""
    if not isinstance(spec, ProviderConfig):
        parsed = parse_provider_config(spec)
        if parsed.value is None:
            raise ConfigInvalid("", parsed.problems)
        spec = parsed.value
    where = f"provider '{spec.name}'"
    return Provider(
        name=spec.name,
        api_base_url=spec.api_base_url,
        api_key=spec.api_key,
        api_keys=spec.api_keys,
        models=spec.models,
        chain=build_chain(spec.transformer.use, registry, where),
        model_chains={model: build_chain(use, registry, f"{where} model '{model}'")
                      for model, use in spec.transformer.models.items()},
        config=spec,
    )


def build_providers(settings: Settings, registry: Registry) -> dict[str, Provider]:
    """Provider table keyed by lower-cased name (names are unique: the model refuses
    duplicates); an unknown transformer is a start-up error."""
    table: dict[str, Provider] = {}
    for spec in settings.config.providers:
        try:
            provider = build_provider(spec, registry)
        except ConfigError as exc:
            raise ConfigError(f"{settings.config_path}: {exc}") from None
        table[provider.name.lower()] = provider
    return table
