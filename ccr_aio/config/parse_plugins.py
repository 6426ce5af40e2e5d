"""`transformers` (custom transformer plugins) -> `PluginSpec`s.

A broken entry does not block a load: like a plugin file that fails to import, it is skipped
and reported (the spec keeps its `problem`, worded for the plugin loader's log line), so one
typo cannot keep the server down. A save still refuses it: the user is there to fix it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .model import EMPTY, PluginSpec
from .problems import At, Findings, kind


def parse_plugins(value: Any, key: str, found: Findings) -> tuple[PluginSpec, ...]:
    """The `transformers` list (`key` names the spelling used); null means none."""
    if value is None:
        return ()
    if not isinstance(value, list):
        found.add(At.key(key), f'must be an array of {{"path": ..., "options": {{...}}}}, got {kind(value)}')
        return ()
    return tuple(_entry(entry, At.key(key).item(i), found) for i, entry in enumerate(value))


def _entry(entry: Any, at: At, found: Findings) -> PluginSpec:
    if isinstance(entry, str):
        entry = {"path": entry}  # the loader has always taken a bare path too
    if not isinstance(entry, Mapping):
        found.add(at, f"must be an object, got {kind(entry)}", blocks=False)
        return PluginSpec("", problem=f"an entry must be an object with a path, got {entry!r}"[:300])
    path, options = entry.get("path"), entry.get("options")
    problem = None
    if not isinstance(path, str) or not path.strip():
        found.add(at.field("path"), "is required (a file path)", blocks=False)
        problem = "`path` is missing (a .py file or a module:Class reference)"
        path = ""
    if options is not None and not isinstance(options, Mapping):
        found.add(at.field("options"), "must be an object", blocks=False)
        problem = problem or "`options` must be an object"
    usable = MappingProxyType(dict(options)) if isinstance(options, Mapping) else EMPTY
    stripped = path.strip()  # a `$VAR` path stays itself: its messages then quote it as written
    return PluginSpec(path if stripped == path else stripped, usable, problem)
