"""Apply: fill a preset's inputs into its config part (CCR's applyUserInputs, made strict).

Keys of `secrets` are schema ids (inputs) or field paths. In order:
1. inputs are collected in dependency order; one whose `when` is false is dropped; one not
   given keeps its current value when it has one (so a single key can be changed later),
   else takes its default; each is validated (every failure in one 400);
2. a `template` replaces the config part, `{{id}}` filled in;
3. each `configMappings` entry whose `when` holds sets its target;
4. each path key sets its field.
The template and mappings stay in the manifest, so apply can run again.

[FIX] An exact `"{{id}}"` becomes the typed value (a number stays a number); an unknown
`{{name}}` is a 400, not ""; a path key must be a declared `requiredInputs` field or an
existing leaf of the config part ("Unknown input: <key>"), so `noServer`, `claudeCodeSettings`
or `__proto__` cannot be written through apply.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from . import inputs as inp
from .fieldpath import MISSING, get_path, parse_path, set_path
from .manifest import is_filled, mappings, template_vars
from .parts import CONFIG_KEYS, config_part, writable
from .store import PresetError

_EXACT = re.compile(r"^\{\{(\w+)\}\}$")
_VAR = re.compile(r"\{\{(\w+)\}\}")


class UnknownVariable(Exception):
    pass


def fill(value: Any, values: Mapping[str, Any]) -> Any:
    """`value` with every `{{name}}` replaced; UnknownVariable when a name has no value."""
    if isinstance(value, str):
        exact = _EXACT.match(value)
        if exact:
            return copy.deepcopy(_lookup(values, exact.group(1)))
        return _VAR.sub(lambda m: inp.js_string(_lookup(values, m.group(1))), value)
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return value


def _lookup(values: Mapping[str, Any], name: str) -> Any:
    if name not in values:
        raise UnknownVariable(name)
    return values[name]


def split_keys(manifest: Mapping[str, Any], secrets: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(inputs by schema id, values by field path); a key that is neither is a 400."""
    ids = {s["id"] for s in inp.schema_inputs(manifest)}
    declared = {i["field"] for i in inp.required_inputs(manifest)}
    config = config_part(manifest)
    given, paths = {}, {}
    for key, value in secrets.items():
        if key in ids:
            given[key] = value
            continue
        leaf = MISSING
        if key not in declared:
            try:
                leaf = get_path(config, parse_path(key))
            except PresetError:
                leaf = MISSING
        if key in declared or (leaf is not MISSING and not isinstance(leaf, (dict, list))):
            # both lie in the config part: required_inputs() keeps only such fields
            paths[key] = value
        else:
            raise PresetError(400, f"Unknown input: {key}"[:300])
    return given, paths


def collect(manifest: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The input values to render with (step 1); a 400 lists every invalid one."""
    has_template = isinstance(manifest.get("template"), dict)
    values: dict[str, Any] = {}
    errors = []
    for spec in inp.ordered(inp.schema_inputs(manifest)):
        key = spec["id"]
        if not inp.applies(spec, values):
            values.pop(key, None)
            continue
        if key in given:
            values[key] = inp.coerce(spec, given[key])
        elif has_template or not is_filled(spec, manifest):
            values[key] = inp.default_value(spec)
        else:
            continue  # has its value already: leave it
        problem = inp.validate(spec, values[key])
        if problem:
            errors.append(problem)
    if errors:
        raise PresetError(400, "; ".join(errors))
    return values


def apply_inputs(manifest: Mapping[str, Any], secrets: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest with `secrets` filled in (steps 1-4); the input itself is not changed."""
    if not isinstance(secrets, Mapping):
        raise PresetError(400, '"secrets" must be an object of input ids or field paths to values')
    given, paths = split_keys(manifest, secrets)
    values = collect(manifest, given)
    ids = {s["id"] for s in inp.schema_inputs(manifest)}
    config = copy.deepcopy(config_part(manifest))
    template = manifest.get("template")
    if isinstance(template, dict):
        config = {k: v for k, v in _filled(template, values, "template").items() if k in CONFIG_KEYS}
    for i, mapping in enumerate(mappings(manifest)):
        if "when" in mapping and not inp.condition_holds(mapping["when"], values):
            continue
        names = template_vars(mapping.get("value"))
        if any(n in ids and n not in values for n in names):
            continue  # an input that kept its value, or whose `when` is false
        set_path(config, _target(mapping.get("target"), f"configMappings[{i}]"),
                 _filled(mapping.get("value"), values, f"configMappings[{i}]"))
    for key, value in paths.items():
        if value in (None, "") and key in {i["field"] for i in inp.required_inputs(manifest)}:
            raise PresetError(400, f"{key} is required")
        set_path(config, parse_path(key), value)
    result = {k: copy.deepcopy(v) for k, v in manifest.items() if k not in CONFIG_KEYS}
    result.update(config)
    return result


def _target(path: Any, where: str) -> list[Any]:
    tokens = parse_path(path)
    if not writable(tokens):
        keys = ", ".join(CONFIG_KEYS)
        raise PresetError(400, f"{where} targets {path!r}: only the config part ({keys}) can be set"[:300])
    return tokens


def _filled(value: Any, values: Mapping[str, Any], where: str) -> Any:
    try:
        return fill(value, values)
    except UnknownVariable as exc:
        raise PresetError(400, f"Unknown variable {{{{{exc}}}}} in {where}: no input has that id") from None
