"""The checks a preset merge passes before it may write config.json: those of a save.

A merge writes the config on the user's behalf from someone else's preset, so it passes what
`POST /api/config` passes: the config model, a build into a snapshot exactly as the server
builds one (transformer names resolved, plugins loaded), and no new reference to a file
outside the config directory (`admin_files`): a preset cannot make the server run or send a
file from elsewhere. The API and `ccr-aio preset install --strategy` both use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import ConfigError, ConfigInvalid, describe
from ..settings import Settings, build_settings
from ..state import Snapshot, build_snapshot
from .admin_files import new_references_outside


def checked_snapshot(raw: dict[str, Any], running: Settings, env: Mapping[str, str],
                     overrides: Mapping[str, Any] | None = None) -> Snapshot:
    """The snapshot for the merged config `raw`; ValueError saying what is wrong."""
    outside = new_references_outside(raw, running, env)
    if outside:
        raise ValueError("; ".join(outside))
    try:
        settings = build_settings(raw, running.config_path, env, overrides)
        if settings.problems:
            raise ValueError(describe(settings.problems))
        return build_snapshot(settings)
    except ConfigInvalid as exc:
        raise ValueError(describe(exc.problems)) from None
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
