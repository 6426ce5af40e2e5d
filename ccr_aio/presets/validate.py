"""What a manifest must be to install (errors, 400) and what a user should know before using it
(warnings), including what would run code or widen permissions (`risks`).

[FIX] CCR installed over HTTP without any check, and its CLI checked only after extracting.
[FIX] `claudeCodeSettings` goes to Claude Code as its settings: hooks and a status line run
shell commands, `apiKeyHelper` runs one for every key, `permissions` can allow any tool, and
an `env` such as NODE_OPTIONS or PATH changes what runs. Those are `risks`: an install needs
the user's trust for them, and they are shown again on the first run. Only a few plain keys
and `ANTHROPIC_*`/`API_TIMEOUT_MS`-style variables count as harmless.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from . import inputs as inp
from .fieldpath import parse_path
from .manifest import mappings
from .store import PresetError

SAFE_SETTINGS = frozenset({"env", "model", "includeCoAuthoredBy", "cleanupPeriodDays", "outputStyle",
                           "alwaysThinkingEnabled", "spinnerTipsEnabled", "language"})
_SAFE_ENV = re.compile(r"^(ANTHROPIC_[A-Z0-9_]+|API_TIMEOUT_MS|DISABLE_TELEMETRY|DISABLE_COST_WARNINGS"
                       r"|DISABLE_ERROR_REPORTING|DISABLE_NON_ESSENTIAL_MODEL_CALLS|MAX_THINKING_TOKENS"
                       r"|CLAUDE_CODE_MAX_OUTPUT_TOKENS|CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC)$")


def errors(manifest: Any) -> list[str]:
    """Why the manifest cannot be installed (empty: it can)."""
    if not isinstance(manifest, Mapping):
        return ["the manifest is not a JSON object"]
    found: list[str] = []
    providers = manifest.get("Providers")
    if providers is not None:
        if not isinstance(providers, list) or not all(isinstance(p, Mapping) for p in providers):
            found.append("Providers must be a list of objects")
        else:
            for p in providers:
                if not isinstance(p.get("name"), str) or not p["name"]:
                    found.append("Provider missing name field")
                elif not isinstance(p.get("api_base_url") or p.get("baseUrl") or p.get("baseurl"), str):
                    found.append(f'Provider "{p["name"]}" missing api_base_url')
    found += _input_errors(manifest)
    settings = manifest.get("claudeCodeSettings")
    if settings is not None and not isinstance(settings, Mapping):
        found.append("claudeCodeSettings must be an object")
    elif isinstance(settings, Mapping) and settings.get("env") is not None and not isinstance(settings["env"], Mapping):
        found.append("claudeCodeSettings.env must be an object")
    return found


def _input_errors(manifest: Mapping[str, Any]) -> list[str]:
    found = []
    schema = manifest.get("schema")
    if schema is not None:
        ids: set[str] = set()
        for i, spec in enumerate(schema if isinstance(schema, list) else [None]):
            key = spec.get("id") if isinstance(spec, Mapping) else None
            if not isinstance(key, str) or not inp.ID.match(key):
                found.append(f"schema[{i}] needs an id of letters, digits and _")
            elif key in ids:
                found.append(f"schema[{i}]: the id {key!r} is used twice")
            else:
                ids.add(key)
    if "template" in manifest and not isinstance(manifest["template"], Mapping):
        found.append("template must be an object")
    listed = manifest.get("configMappings")
    if listed is not None and (not isinstance(listed, list) or len(mappings(manifest)) != len(listed)):
        found.append("configMappings must be a list of objects")
    for i, mapping in enumerate(mappings(manifest)):
        try:
            parse_path(mapping.get("target"))
        except PresetError as exc:
            found.append(f"configMappings[{i}].target: {exc.message}")
    required = manifest.get("requiredInputs")
    if required is not None and not isinstance(required, list):
        found.append("requiredInputs must be a list")
    return found


def risks(manifest: Mapping[str, Any]) -> list[str]:
    """What needs the user's trust, one line each: the risky claudeCodeSettings, and plugin
    paths (Python code the server would run once the preset is merged into config.json; the
    archive itself may ship that file)."""
    given = manifest.get("transformers")
    found = [f"transformers[{i}].path = {_short(entry['path'])} (Python code the server runs if merged)"
             for i, entry in enumerate(given if isinstance(given, list) else [])
             if isinstance(entry, Mapping) and entry.get("path")]
    settings = manifest.get("claudeCodeSettings")
    if not isinstance(settings, Mapping):
        return found
    for key, value in settings.items():
        if key == "env" and isinstance(value, Mapping):
            found += [f"claudeCodeSettings.env.{name} = {_short(v)}" for name, v in value.items()
                      if not _SAFE_ENV.match(str(name))]
        elif key not in SAFE_SETTINGS:
            found.append(f"claudeCodeSettings.{key} = {_short(value)}")
    return found


def risk_fingerprint(manifest: Mapping[str, Any]) -> str:
    """Changes whenever what `risks` lists changes: a trusted preset edited later asks again."""
    return hashlib.sha256("\n".join(risks(manifest)).encode()).hexdigest()


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:297] + "..."


def warnings(manifest: Mapping[str, Any]) -> list[str]:
    """What does not block an install but should be read."""
    found = []
    if not manifest.get("version"):
        found.append("the preset has no version")
    listed = manifest.get("Providers")
    providers = listed if isinstance(listed, list) else []
    for p in providers:
        if isinstance(p, Mapping) and isinstance(p.get("name"), str):
            if not p.get("models"):
                found.append(f'Provider "{p["name"]}" has no models')
            host = _host(p.get("api_base_url"))
            if host:
                found.append(f'Provider "{p["name"]}" sends your requests to {host}')
    found += [f"{line} (runs with your rights: check it)" for line in risks(manifest)]
    return found


def _host(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None
