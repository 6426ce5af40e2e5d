"""`Providers` entries and their `transformer` specs -> `ProviderConfig`s, every problem noted.

Only the shape is checked here; whether a transformer name exists depends on the plugins,
so `providers.build_provider` reports unknown names when it builds the chains.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .model import ModelCapabilities, ProviderConfig, TransformerSpec, TransformerUse
from .problems import At, Findings, kind

PROVIDERS_HINT = 'Providers must be a list of provider objects like {"name": ..., "api_base_url": ..., "models": [...]}'
_URL_KEYS = ("api_base_url", "baseUrl", "baseurl")  # CCR accepts all three spellings
_KEY_KEYS = ("api_key", "apiKey")
KEY_POOL_HINT = "or an array of strings: a key pool"


def parse_providers(value: Any, key: str, found: Findings) -> tuple[ProviderConfig, ...]:
    """`Providers` (or its alias `providers`, named by `key`); null means none."""
    if value is None:
        return ()
    if not isinstance(value, list):
        found.add(At.key(key), f"must be an array, got {kind(value)}", hint=PROVIDERS_HINT)
        return ()
    seen: dict[str, str] = {}
    providers = []
    for i, entry in enumerate(value):
        provider = parse_provider(entry, At.key(key).item(i), found, seen)
        if provider is not None:
            providers.append(provider)
    return tuple(providers)


def parse_provider(entry: Any, at: At, found: Findings, seen: dict[str, str] | None = None) -> ProviderConfig | None:
    """One provider entry; None when it has a problem. `seen` maps the lower-cased names
    before this one to their entry, to refuse a duplicate (requests name providers ignoring
    case, and the provider table is keyed that way)."""
    if not isinstance(entry, Mapping):
        found.add(at, f"must be an object, got {kind(entry)}")
        return None
    before = len(found.problems)
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        found.add(at.field("name"), "is required (a non-empty string)")
        name = ""
    else:
        at = at.named(name)
        if seen is not None:
            first = seen.setdefault(name.lower(), at.label)
            if first != at.label:
                where = At(at.field("name").path, at.label)  # "Providers[2] (Q): duplicate ..."
                found.add(where, f"duplicate provider name (as {first}; case does not count)", sep=": ")
    url = _first(entry, _URL_KEYS)
    if not isinstance(url, str) or not url.strip():
        found.add(at.field("api_base_url"), "is required (the full endpoint URL)")
    keys = parse_api_keys(_first(entry, _KEY_KEYS), at.field("api_key"), found)
    models = entry.get("models")
    if models is None:
        models = []
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        found.add(at.field("models"), "must be an array of strings")
    transformer = parse_transformer(entry.get("transformer"), at.field("transformer"), found)
    capabilities = parse_capabilities(entry.get("capabilities"), at.field("capabilities"), found)
    if len(found.problems) > before:
        return None
    return ProviderConfig(
        name=str(name),
        api_base_url=str(url),
        api_keys=keys,
        models=tuple(models),
        transformer=transformer,
        capabilities=capabilities,
    )


def parse_api_keys(value: Any, at: At, found: Findings) -> tuple[str, ...]:
    """`api_key`: one key (a string), or a key pool (an array of them, tried in turn when one is
    rate-limited or rejected). Keys never appear in messages, only their places."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        found.add(at, f"must be a string, got {kind(value)}", hint=KEY_POOL_HINT)
        return ()
    seen: dict[str, int] = {}
    for i, key in enumerate(value):
        if not isinstance(key, str) or not key:
            found.add(at.item(i), f"must be a non-empty string, got {kind(key)}"
                      if not isinstance(key, str) else "must be a non-empty string")
        elif seen.setdefault(key, i) != i:
            found.add(at.item(i), f"is the same key as api_key[{seen[key]}] (a pool needs different keys)")
    return tuple(value)


def _first(entry: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """The first of `keys` with a value (CCR's `a || b`), else the first one present."""
    present = [entry[k] for k in keys if k in entry and entry[k] is not None]
    return next((v for v in present if v), present[0] if present else None)


_CAPABILITY_NUMBERS = ("context_window", "max_output_tokens")
CAPABILITIES_HINT = '{"<model>": {"context_window": 128000, "max_output_tokens": 8192, "reasoning": false}}'


def parse_capabilities(value: Any, at: At, found: Findings) -> Mapping[str, ModelCapabilities]:
    """`{"<model>": {context_window, max_output_tokens, reasoning}}`, keyed here by the lower-cased
    model name (requests name models ignoring case); null means none."""
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        found.add(at, f"must be an object, got {kind(value)}", hint=CAPABILITIES_HINT)
        return MappingProxyType({})
    table: dict[str, ModelCapabilities] = {}
    for model, entry in value.items():
        where = at.field(model)
        if not isinstance(entry, Mapping):
            found.add(where, f"must be an object, got {kind(entry)}", hint=CAPABILITIES_HINT)
            continue
        numbers: dict[str, int] = {}
        for key in _CAPABILITY_NUMBERS:
            number = entry.get(key)
            if number is None:
                continue
            if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
                found.add(where.field(key), f"must be a positive whole number of tokens, got {number!r}"[:200])
            else:
                numbers[key] = number
        reasoning = entry.get("reasoning")
        if reasoning is not None and not isinstance(reasoning, bool):
            found.add(where.field("reasoning"), f"must be true or false, got {kind(reasoning)}")
            reasoning = None
        for key in entry:
            if key not in (*_CAPABILITY_NUMBERS, "reasoning"):
                found.add(where.field(key), "is not a capability", hint="context_window, max_output_tokens or reasoning")
        table[model.lower()] = ModelCapabilities(reasoning=reasoning, **numbers)
    return MappingProxyType(table)


def parse_transformer(spec: Any, at: At, found: Findings) -> TransformerSpec:
    """`{"use": [...], "<model>": {"use": [...]}}`; null means no transformers."""
    if spec is None:
        return TransformerSpec()
    if not isinstance(spec, Mapping):
        found.add(at, f'must be an object like {{"use": [...]}}, got {kind(spec)}')
        return TransformerSpec()
    use: tuple[TransformerUse, ...] = ()
    models: dict[str, tuple[TransformerUse, ...]] = {}
    for key, value in spec.items():
        if key == "use":
            use = parse_use(value, at.field("use"), found)
        elif value is None:
            continue
        elif not isinstance(value, Mapping):
            found.add(at.field(key), 'must be an object like {"use": [...]}')
        else:
            models[key] = parse_use(value.get("use"), at.field(key).field("use"), found)
    return TransformerSpec(use=use, models=MappingProxyType(models))


def parse_use(use: Any, at: At, found: Findings) -> tuple[TransformerUse, ...]:
    """`["name", ["name", {options}], ...]`; null means none."""
    if use is None:
        return ()
    if not isinstance(use, list):
        found.add(at, "must be an array of transformer names or [name, options]")
        return ()
    chain = []
    for j, item in enumerate(use):
        entry = _use_entry(item)
        if entry is None:
            found.add(at.item(j), f"must be a name or [name, {{options}}], got {item!r}"[:200])
        else:
            chain.append(entry)
    return tuple(chain)


def _use_entry(item: Any) -> TransformerUse | None:
    if isinstance(item, str):
        return TransformerUse(item) if item else None
    if not (isinstance(item, list) and 1 <= len(item) <= 2 and isinstance(item[0], str) and item[0]):
        return None
    options = item[1] if len(item) == 2 else None
    if options is None:
        return TransformerUse(item[0])
    return TransformerUse(item[0], MappingProxyType(options)) if isinstance(options, dict) else None
