"""What the API and CLI show of a manifest: list entries, the detail view, the inputs a form
asks, and whether the preset still needs configuring (CCR's needsConfiguration).

[FIX] The detail view shows the inputs at the top level (CCR nested them under `metadata`,
where its UI never looked) and masks secrets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from . import inputs as inp
from .fieldpath import MISSING, format_path, get_path, parse_path
from .parts import INPUT_KEYS, METADATA_KEYS, config_part, metadata_part
from .sensitive import mask, walk_strings
from .store import PresetError

DEFAULT_VERSION = "1.0.0"
_VAR = re.compile(r"\{\{(\w+)\}\}")


def summary(manifest: Mapping[str, Any], preset_id: str) -> dict[str, Any]:
    """An entry of the list: id (the directory), the metadata keys, installed, and whether
    inputs are still to be filled."""
    entry: dict[str, Any] = {"id": preset_id, "name": manifest.get("name") or preset_id,
                             "version": manifest.get("version") or DEFAULT_VERSION}
    entry.update({k: manifest[k] for k in METADATA_KEYS if k in manifest and k not in entry})
    entry["installed"] = True
    entry["needsConfiguration"] = bool(unfilled(manifest))
    return entry


def template_vars(value: Any) -> list[str]:
    return [m.group(1) for _, _, text in walk_strings({"v": value}) for m in _VAR.finditer(text)]


def mappings(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    listed = manifest.get("configMappings")
    return [m for m in listed if isinstance(m, dict)] if isinstance(listed, list) else []


def _holds_placeholder(value: Any, var: str) -> bool:
    if value is MISSING or value is None or value == "" or value == []:
        return True
    return isinstance(value, str) and ("{{" in value or f"${{{var}}}" in value)


def is_filled(spec: Mapping[str, Any], manifest: Mapping[str, Any]) -> bool:
    """Whether an input's places hold a value: every mapping target that takes `{{id}}` (or,
    for a requiredInputs entry, its path) holds neither nothing, `{{...}}` nor `${ID}`."""
    config = config_part(manifest)
    if "path" in spec:
        return not _holds_placeholder(get_path(config, parse_path(spec["path"])), str(spec.get("placeholder")))
    if isinstance(manifest.get("template"), dict) and spec["id"] in template_vars(manifest["template"]):
        if any(k not in config for k in manifest["template"]):
            return False
    for mapping in mappings(manifest):
        if spec["id"] in template_vars(mapping.get("value")):
            try:
                target = get_path(config, parse_path(mapping.get("target")))
            except PresetError:
                continue
            if _holds_placeholder(target, spec["id"]):
                return False
    return True


def unfilled(manifest: Mapping[str, Any]) -> list[str]:
    """What keeps the preset from being configured (CCR's needsConfiguration), as labels:
    required inputs never filled, config strings still holding `{{...}}`."""
    found: list[str] = []
    defaults = {s["id"]: inp.default_value(s) for s in inp.schema_inputs(manifest)}
    for spec in inp.effective_inputs(manifest):
        if inp.is_required(spec) and inp.applies(spec, defaults) and not is_filled(spec, manifest):
            found.append(inp.label(spec))
    for path, _, value in walk_strings(config_part(manifest)):
        if _VAR.search(value):
            found.append(format_path(path))
    return list(dict.fromkeys(found))


def input_views(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The inputs a form shows, in asking order, each with whether it already has a value,
    and a select's options resolved (dynamic sources with the defaults)."""
    specs = inp.ordered(inp.effective_inputs(manifest))
    defaults = {s["id"]: inp.default_value(s) for s in specs}
    views = []
    for spec in specs:
        view = {k: v for k, v in spec.items() if k != "options"}
        view["type"] = inp.input_type(spec)
        view["required"] = inp.is_required(spec)
        view["filled"] = is_filled(spec, manifest)
        if view["type"] in ("select", "multiselect"):
            view["options"] = inp.options(spec, defaults, manifest)
        views.append(view)
    return views


def detail(manifest: Mapping[str, Any], preset_id: str, warnings: list[str]) -> dict[str, Any]:
    """GET /api/presets/{name}: CCR's `{metadata, config}` split, secrets masked, plus the
    inputs at the top level and what a form needs."""
    metadata = mask(metadata_part(manifest))
    metadata.setdefault("name", preset_id)
    missing = unfilled(manifest)
    view: dict[str, Any] = {"id": preset_id, "metadata": metadata, "config": mask(config_part(manifest))}
    for key in INPUT_KEYS:
        if key in manifest:
            view[key] = mask(manifest[key]) if key == "template" else manifest[key]
    view.update(inputs=input_views(manifest), needsConfiguration=bool(missing), missing=missing,
                warnings=warnings)
    return view
