"""Export: the config file as stored -> a preset manifest without secrets -> a `.ccrsets` ZIP.

[FIX] over CCR's export:
- the config is read as stored, before `$VAR` interpolation, so `$VAR` references stay
  references (CCR exported the resolved secret, then replaced it, losing the variable name);
- each secret becomes a placeholder named after its owner (`${DEEPSEEK_API_KEY}`), and gets a
  `schema` input (password, required) with a `configMappings` entry, besides CCR's
  `requiredInputs`, so an install asks for it; a kept reference gets an optional input whose
  default is the reference;
- `include_sensitive` really keeps the secrets (CCR still replaced them), with a warning, and
  then lists no inputs;
- the machine-local keys (`PORT`, `HOST`, `APIKEY`, `LOG`, `LOG_LEVEL`, `CUSTOM_ROUTER_PATH`,
  `REWRITE_SYSTEM_PROMPT`) stay home unless asked for.
"""

from __future__ import annotations

import copy
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .fieldpath import parse_path, set_path
from .manifest import DEFAULT_VERSION
from .parts import INPUT_KEYS, METADATA_KEYS
from .sensitive import Field, find_secrets
from .store import MANIFEST, check_name, dumps, write_private

LOCAL_KEYS = ("PORT", "HOST", "APIKEY", "LOG", "LOG_LEVEL", "CUSTOM_ROUTER_PATH", "REWRITE_SYSTEM_PROMPT")
CLEAR_TEXT_WARNING = "the secrets are in the file in clear text: keep it to yourself"


@dataclass
class Exported:
    manifest: dict[str, Any]
    sanitized: int = 0  # secrets replaced by placeholders
    fields: list[Field] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def keywords_from(tags: str | list[str] | None) -> list[str]:
    items = tags.split(",") if isinstance(tags, str) else list(tags or [])
    return [t.strip() for t in items if isinstance(t, str) and t.strip()]


def build(raw_config: dict[str, Any], name: str, *, description: str = "", author: str = "",
          tags: str | list[str] | None = None, include_sensitive: bool = False,
          keep_local: bool = False) -> Exported:
    """The manifest for `raw_config` (the file as stored) and what was done to it."""
    check_name(name)
    skipped = set(METADATA_KEYS) | set(INPUT_KEYS) | ({"noServer", "claudeCodeSettings"})
    config = {k: copy.deepcopy(v) for k, v in raw_config.items()
              if k not in skipped and (keep_local or k not in LOCAL_KEYS)}
    manifest: dict[str, Any] = {"name": name, "version": DEFAULT_VERSION, "description": description,
                                "author": author}
    keywords = keywords_from(tags)
    if keywords:
        manifest["keywords"] = keywords
    warnings = _plugin_warnings(config)
    if include_sensitive:
        manifest.update(config)
        return Exported(manifest, warnings=[CLEAR_TEXT_WARNING, *warnings])
    fields = find_secrets(config)
    secrets = [f for f in fields if f.reference is None]
    for f in secrets:
        placeholder = f.template.replace("{{", "${").replace("}}", "}") if f.template else f"${{{f.var}}}"
        set_path(config, parse_path(f.path), placeholder)
        if f.template:
            warnings.append(f"{f.path}: the URL held a credential; it is now ${{{f.var}}}")
    manifest.update(config)
    manifest.update(_inputs(fields))
    return Exported(manifest, sanitized=len(secrets), fields=fields, warnings=warnings)


def _inputs(fields: list[Field]) -> dict[str, Any]:
    """schema, configMappings and requiredInputs for the secret places (one input per
    variable, one mapping per place)."""
    schema: dict[str, dict[str, Any]] = {}
    mappings: dict[str, dict[str, Any]] = {}
    required = []
    for f in fields:
        spec: dict[str, Any] = {"id": f.var, "type": "password", "label": f.label, "required": f.reference is None}
        if f.reference is not None:
            spec["defaultValue"] = f.reference
        schema.setdefault(f.var, spec)
        mappings.setdefault(f.path, {"target": f.path, "value": f.template or f"{{{{{f.var}}}}}"})
        required.append({"field": f.path, "prompt": f"Enter {f.key}", "placeholder": f.var})
    if not fields:
        return {}
    return {"schema": list(schema.values()), "configMappings": list(mappings.values()), "requiredInputs": required}


def _plugin_warnings(config: dict[str, Any]) -> list[str]:
    plugins = config.get("transformers")
    return [f"transformers[{i}] loads code from {entry['path']}: whoever installs the preset needs that file"
            for i, entry in enumerate(plugins if isinstance(plugins, list) else [])
            if isinstance(entry, dict) and isinstance(entry.get("path"), str)]


def archive_bytes(manifest: dict[str, Any]) -> bytes:
    """A `.ccrsets` file: a ZIP with the one entry manifest.json (2-space JSON, deflate 9)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(MANIFEST, dumps(manifest))
    return buffer.getvalue()


def write_archive(path: Path, manifest: dict[str, Any]) -> None:
    """Write (or replace) the archive at `path`, mode 0600: it may hold secrets."""
    write_private(Path(path), archive_bytes(manifest))
