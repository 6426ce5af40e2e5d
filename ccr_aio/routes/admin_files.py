"""What a save through the API may point the server at: files inside the config directory.

Three settings name files the server reads or runs: `REWRITE_SYSTEM_PROMPT` (its text is sent
to the model), `CUSTOM_ROUTER_PATH` and the `transformers` plugin paths (Python code that runs
in the server). Through `POST /api/config` anyone holding the APIKEY (or, without one, anyone on
this machine) could otherwise send any readable file to a provider of their choosing, or run
any Python file or installed class. So a save may keep what the file already names, but a new
or changed value must be a file inside the config directory (symlinks resolved), code must be
a `.py` file, and `module:Class` references can only be added by editing the file. The config
file itself is trusted as written: start-up applies none of this.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import config_store
from ..config import ConfigError
from ..plugins import plugin_file
from ..settings import Settings, interpolate

_SINGLE = (("REWRITE_SYSTEM_PROMPT", "a text file"), ("CUSTOM_ROUTER_PATH", "a .py file"))


def new_references_outside(posted: Mapping[str, Any], running: Settings, env: Mapping[str, str]) -> list[str]:
    """One message per setting in `posted` that newly names something outside the config
    directory; a value the running config or the file on disk already has is kept."""
    known = [running.raw, _on_disk(running.config_path)]
    home = running.home
    problems = []
    for key, what in _SINGLE:
        value = posted.get(key)
        if not isinstance(value, str) or not value or any(raw.get(key) == value for raw in known):
            continue
        path = Path(interpolate(value, env)).expanduser()  # read as the server reads it
        if not _inside(path, home) or (key == "CUSTOM_ROUTER_PATH" and path.suffix != ".py"):
            problems.append(f"{key} {value!r} must name {what} inside {home} (a save through the API "
                            "cannot point the server at files elsewhere; edit the config file for that)")
    kept = {path for raw in known for path in _plugin_paths(raw)}
    for where, ref in _plugin_entries(posted):
        if ref in kept:
            continue
        named = plugin_file(interpolate(ref, env), home)
        if named is None:
            problems.append(f"{where} {ref!r}: a module reference can only be added by editing the "
                            "config file")
        elif not _inside(named, home) or named.suffix != ".py":
            problems.append(f"{where} {ref!r} must name a .py file inside {home} (a save through the "
                            "API cannot run code from elsewhere)")
    return problems


def _inside(path: Path, home: Path) -> bool:
    real, root = os.path.realpath(path), os.path.realpath(home)
    return real.startswith(root.rstrip(os.sep) + os.sep)


def _on_disk(config_path: Path) -> Mapping[str, Any]:
    try:
        return config_store.read_raw(config_path)
    except (OSError, ConfigError):
        return {}


def _plugins_key(raw: Mapping[str, Any]) -> str:
    # The config model's rule: `transformers`, or `Transformers` when only that one is there.
    return "Transformers" if "Transformers" in raw and "transformers" not in raw else "transformers"


def _plugin_entries(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    key = _plugins_key(raw)
    entries = raw.get(key)
    found = []
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        path = entry.get("path") if isinstance(entry, Mapping) else entry
        if isinstance(path, str) and path.strip():
            found.append((f"{key}[{i}].path", path.strip()))
    return found


def _plugin_paths(raw: Mapping[str, Any]) -> set[str]:
    return {path for _, path in _plugin_entries(raw)}
