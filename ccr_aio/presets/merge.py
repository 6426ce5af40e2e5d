"""Opt-in: merge a preset's (filled) config part into config.json, by CCR's mergeConfig rules.

Strategies: `overwrite`, `merge`, `skip`, and `ask` (callbacks decide; without one, skip).
- Providers (when the preset has some): a new name is appended; on a name collision
  `overwrite` replaces the provider, `merge` keeps the existing URL, key and other fields but
  unions `models` (existing first) and the `transformer.use` lists, `skip`/`keep` change nothing.
- Router: a key the config lacks is set; a conflict changes only under `overwrite` (or a yes).
- transformers: entries with a new `path` are appended; a known path is replaced only under
  `overwrite`.
- other keys: added when absent; a conflict replaces the whole value only under `overwrite`.
[FIX] The base is deep-copied, never changed; the preset's providers are deduplicated (the last
one wins); only the config part is merged (never `name`, `schema`...); and `PORT`, `HOST`,
`APIKEY` are never replaced, only added. The write goes through config_store: the config
validator, a backup, an atomic replace.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config_store
from ..config import ConfigError
from .manifest import unfilled
from .parts import config_part
from .store import PresetError

STRATEGIES = ("ask", "overwrite", "merge", "skip")
PROTECTED = ("PORT", "HOST", "APIKEY")


@dataclass
class Ask:
    """The questions of the `ask` strategy; a missing callback answers "skip"/no."""

    provider: Callable[[str], str] | None = None  # name -> keep|overwrite|merge|skip
    router: Callable[[str, Any, Any], bool] | None = None  # key, current, incoming -> replace?
    transformer: Callable[[str], bool] | None = None  # path -> replace?
    other: Callable[[str, Any, Any], bool] | None = None  # key, current, incoming -> replace?


def merge_config(base: dict[str, Any], incoming: dict[str, Any], strategy: str,
                 ask: Ask | None = None) -> dict[str, Any]:
    if strategy not in STRATEGIES:
        raise PresetError(400, f'Invalid merge strategy "{strategy}": one of {", ".join(STRATEGIES)}')
    ask = ask if strategy == "ask" and ask is not None else Ask()
    result = copy.deepcopy(base)
    incoming = copy.deepcopy(incoming)
    for key, value in incoming.items():
        if key == "Providers":
            if isinstance(value, list) and value:
                result["Providers"] = _providers(result.get("Providers"), value, strategy, ask)
        elif key == "Router":
            if isinstance(value, dict):
                result["Router"] = _router(result.get("Router"), value, strategy, ask)
        elif key == "transformers":
            if isinstance(value, list):
                result["transformers"] = _transformers(result.get("transformers"), value, strategy, ask)
        elif value is not None and (result.get(key) is None or (
                key not in PROTECTED and _yes(strategy, ask.other, key, result[key], value))):
            result[key] = value
    return result


def _yes(strategy: str, question: Callable[..., bool] | None, *args: Any) -> bool:
    return strategy == "overwrite" or (strategy == "ask" and question is not None and bool(question(*args)))


def _providers(existing: Any, incoming: list[Any], strategy: str, ask: Ask) -> list[Any]:
    providers = list(existing) if isinstance(existing, list) else []
    unique: dict[str, dict[str, Any]] = {}
    for entry in incoming:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            unique.pop(entry["name"].lower(), None)
            unique[entry["name"].lower()] = entry
    for lowered, entry in unique.items():
        index = next((i for i, p in enumerate(providers)
                      if isinstance(p, dict) and str(p.get("name", "")).lower() == lowered), None)
        if index is None:
            providers.append(entry)
            continue
        action = strategy if strategy != "ask" else (ask.provider(entry["name"]) if ask.provider else "skip")
        if action == "overwrite":
            providers[index] = entry
        elif action == "merge":
            providers[index] = _merged_provider(providers[index], entry)
    return providers


def _merged_provider(current: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    models = [m for m in current.get("models") or [] if isinstance(m, str)]
    merged["models"] = models + [m for m in entry.get("models") or [] if isinstance(m, str) and m not in models]
    ours, theirs = current.get("transformer"), entry.get("transformer")
    if not ours and theirs:
        merged["transformer"] = theirs
    elif isinstance(ours, dict) and isinstance(theirs, dict) and isinstance(ours.get("use"), list) \
            and isinstance(theirs.get("use"), list):
        # A union by identity, as CCR's Set: names once, [name, options] entries all kept.
        use = list(ours["use"])
        use += [u for u in theirs["use"] if not (isinstance(u, str) and u in use)]
        merged["transformer"] = {**ours, "use": use}
    return merged


def _router(existing: Any, incoming: dict[str, Any], strategy: str, ask: Ask) -> dict[str, Any]:
    router = dict(existing) if isinstance(existing, dict) else {}
    for key, value in incoming.items():
        if value is None:
            continue
        if router.get(key) is None or _yes(strategy, ask.router, key, router[key], value):
            router[key] = value
    return router


def _transformers(existing: Any, incoming: list[Any], strategy: str, ask: Ask) -> list[Any]:
    current = list(existing) if isinstance(existing, list) else []
    if not current:
        return incoming
    for entry in incoming:
        path = entry.get("path") if isinstance(entry, dict) else None
        index = next((i for i, e in enumerate(current) if path and isinstance(e, dict) and e.get("path") == path), None)
        if index is None:
            current.append(entry)
        elif _yes(strategy, ask.transformer, path):
            current[index] = entry
    return current


def merge_into_file(config_path: Path, manifest: dict[str, Any], strategy: str, ask: Ask | None = None,
                    check: Callable[[dict[str, Any]], None] | None = None) -> Path | None:
    """Merge the preset into the config file: validated (the config model, then `check`, which
    raises ValueError for a config that would not run), backed up, replaced atomically. Returns
    the backup. Refused while the preset still has inputs to fill."""
    missing = unfilled(manifest)
    if missing:
        raise PresetError(400, "Fill the preset's inputs before merging it: " + ", ".join(missing))

    def change(raw: dict[str, Any]) -> None:
        merged = merge_config(raw, config_part(manifest), strategy, ask)
        if check is not None:
            check(merged)
        raw.clear()
        raw.update(merged)

    try:
        return config_store.update(config_path, change)
    except ValueError as exc:
        raise PresetError(400, f"Not merged, config.json unchanged: {exc}") from None
    except ConfigError as exc:
        raise PresetError(400, f"Not merged: the config file does not parse: {exc}") from None
    except (config_store.StoreError, OSError) as exc:
        raise PresetError(500, f"Not merged: {exc}") from None
