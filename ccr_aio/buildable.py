"""Whether a config (as stored) would run: parsed by the config model and built into a snapshot
exactly as the server builds one (transformer names resolved, plugins loaded). What writes a
config on the user's behalf without them seeing the file (a preset merge) checks it here first,
so a merged config.json never stops the next start."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config import ConfigError, ConfigInvalid, describe
from .settings import build_settings
from .state import Snapshot, build_snapshot


def build_or_explain(raw: dict[str, Any], config_path: Path, env: Mapping[str, str],
                     overrides: Mapping[str, Any] | None = None) -> Snapshot:
    """The snapshot for `raw`; ValueError saying what is wrong when it does not build."""
    try:
        settings = build_settings(raw, config_path, env, overrides)
        if settings.problems:
            raise ValueError(describe(settings.problems))
        return build_snapshot(settings)
    except ConfigInvalid as exc:
        raise ValueError(describe(exc.problems)) from None
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
