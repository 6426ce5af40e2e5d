"""`fallback` -> what to try next when a `provider,model` fails, checked against `Providers`.

    fallback: {
      default: ["openrouter,z-ai/glm-4.6", "ollama,qwen3-coder"],       // by scenario
      "deepseek,deepseek-reasoner": ["openrouter,deepseek/deepseek-r1"], // by provider,model
    }

Every `provider,model` (in a key or a list) must name a configured provider and one of its
models: a typo here would only show the day the primary fails. They are stored in the
configured spelling (matched ignoring case, as the Router does), so health records and the
health report agree on one name per model.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .model import EMPTY, FALLBACK_SCENARIOS, ProviderConfig
from .problems import At, Findings, kind

FALLBACK_HINT = 'an object like {"default": ["provider,model", ...], "provider,model": [...]}'
_SCENARIOS_TEXT = ", ".join(FALLBACK_SCENARIOS)


def parse_fallback(value: Any, providers: tuple[ProviderConfig, ...] | None, found: Findings
                   ) -> Mapping[str, tuple[str, ...]]:
    """null means no fallback; an empty list under a key means "no fallback for this one".
    `providers` None: Providers has problems of its own, so only the shape is checked."""
    at = At.key("fallback")
    if value is None:
        return EMPTY
    if not isinstance(value, Mapping):
        found.add(at, f"must be an object, got {kind(value)}", hint=FALLBACK_HINT)
        return EMPTY
    models = _models(providers)
    table: dict[str, tuple[str, ...]] = {}
    for key, entries in value.items():
        where = at.field(key)
        name = key if key in FALLBACK_SCENARIOS else _pair(key, models, where, found, "a key")
        if entries is None:
            continue
        if not isinstance(entries, list):
            found.add(where, f'must be an array of "provider,model" strings, got {kind(entries)}')
            continue
        pairs = tuple(_pair(entry, models, where.item(i), found, "an entry") for i, entry in enumerate(entries))
        if name is not None and all(pairs):
            table[name] = tuple(p for p in pairs if p)
    return MappingProxyType(table)


def _models(providers: tuple[ProviderConfig, ...] | None) -> dict[str, tuple[str, dict[str, str]]] | None:
    """lower-cased provider name -> (its name, {lower-cased model: model})."""
    if providers is None:
        return None
    return {p.name.lower(): (p.name, {m.lower(): m for m in p.models}) for p in providers}


def _pair(value: Any, models: Mapping[str, tuple[str, dict[str, str]]] | None, at: At, found: Findings,
          what: str) -> str | None:
    """The configured spelling of a "provider,model" that names a configured model, or None
    (and a problem)."""
    if not isinstance(value, str):
        found.add(at, f'must be a string "provider,model", got {kind(value)}')
        return None
    provider, comma, model = value.partition(",")
    provider, model = provider.strip(), model.strip()
    if not comma or not provider or not model:
        if what == "a key":
            found.add(at, f'is not a scenario ({_SCENARIOS_TEXT}) or "provider,model"', sep=": ")
        else:
            found.add(at, f'must be "provider,model", got {value!r}'[:200])
        return None
    if models is None:
        return f"{provider},{model}"
    known = models.get(provider.lower())
    if known is None:
        found.add(at, f"names provider '{provider}', which is not in Providers", sep=": ")
        return None
    name, spelled = known
    if model.lower() not in spelled:
        found.add(at, f"names model '{model}', which is not in the models of provider '{name}'", sep=": ")
        return None
    return f"{name},{spelled[model.lower()]}"
