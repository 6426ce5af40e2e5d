"""A preset's inputs (`schema`): what each asks, when it is asked, its options, its default,
and whether a value is valid — CCR's rules and messages, so a preset behaves the same in both.

[FIX] An input without `type` is a password (CCR declared it so but prompted in clear text).
A preset with only CCR's `requiredInputs` (path, prompt, placeholder) gets one password input
per entry, keyed by its path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .fieldpath import parse_path
from .parts import writable
from .store import PresetError

TYPES = ("password", "input", "select", "multiselect", "confirm", "editor", "number")
ID = re.compile(r"^\w+$")


def schema_inputs(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    schema = manifest.get("schema")
    if not isinstance(schema, list):
        return []
    return [i for i in schema if isinstance(i, dict) and isinstance(i.get("id"), str)]


def required_inputs(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The requiredInputs entries whose field lies in the config part (CCR's exports also list
    `APIKEY`, which a preset never uses)."""
    listed = manifest.get("requiredInputs")
    if not isinstance(listed, list):
        return []
    return [i for i in listed if isinstance(i, dict) and _in_config(i.get("field"))]


def _in_config(field: Any) -> bool:
    try:
        return writable(parse_path(field))
    except PresetError:
        return False


def effective_inputs(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What an install asks: the schema; else the requiredInputs as password inputs whose id
    is their path (`path` says so)."""
    schema = schema_inputs(manifest)
    if schema:
        return schema
    return [{"id": i["field"], "type": "password", "label": i.get("prompt") or i["field"],
             "placeholder": i.get("placeholder"), "required": True, "path": i["field"]}
            for i in required_inputs(manifest)]


def input_type(spec: Mapping[str, Any]) -> str:
    kind = spec.get("type")
    return kind if kind in TYPES else "password"


def label(spec: Mapping[str, Any]) -> str:
    return str(spec.get("label") or spec.get("id"))


def is_required(spec: Mapping[str, Any]) -> bool:
    return spec.get("required", True) is not False


def default_value(spec: Mapping[str, Any]) -> Any:
    if "defaultValue" in spec:
        return spec["defaultValue"]
    return {"confirm": False, "multiselect": [], "number": 0}.get(input_type(spec), "")


def strict_equal(a: Any, b: Any) -> bool:
    """JavaScript's ===, for JSON values."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return False
    return type(a) is type(b) and a == b


def condition_holds(condition: Any, values: Mapping[str, Any]) -> bool:
    """CCR's `when`: one condition, or a list of them (all must hold)."""
    if isinstance(condition, list):
        return all(condition_holds(c, values) for c in condition)
    if not isinstance(condition, Mapping):
        return True
    actual = values.get(str(condition.get("field")))
    expected = condition.get("value")
    operator = condition.get("operator") or "eq"
    if operator == "eq":
        return strict_equal(actual, expected)
    if operator == "ne":
        return not strict_equal(actual, expected)
    if operator in ("in", "nin"):
        found = isinstance(expected, list) and any(strict_equal(actual, x) for x in expected)
        return found if operator == "in" else isinstance(expected, list) and not found
    if operator == "exists":
        return actual is not None
    compare = {"gt": lambda x, y: x > y, "lt": lambda x, y: x < y,
               "gte": lambda x, y: x >= y, "lte": lambda x, y: x <= y}.get(operator)
    try:
        return bool(compare and compare(actual, expected))
    except TypeError:
        return False


def applies(spec: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    return "when" not in spec or condition_holds(spec["when"], values)


def dependencies(spec: Mapping[str, Any]) -> list[str]:
    found = [d for d in spec.get("dependsOn") or [] if isinstance(d, str)]
    conditions = spec.get("when")
    for c in conditions if isinstance(conditions, list) else [conditions]:
        if isinstance(c, Mapping) and isinstance(c.get("field"), str):
            found.append(c["field"])
    return found


def ordered(inputs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dependencies first (`dependsOn`, `when` fields), else declaration order; a cycle is cut
    where it closes."""
    by_id = {i["id"]: i for i in inputs}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(spec: dict[str, Any]) -> None:
        if spec["id"] in seen:
            return
        seen.add(spec["id"])
        for dep in dependencies(spec):
            if dep in by_id:
                visit(by_id[dep])
        out.append(spec)

    for spec in inputs:
        visit(spec)
    return out


def options(spec: Mapping[str, Any], values: Mapping[str, Any], manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A select's options: a list, `static`, the preset's `providers`, or a chosen provider's
    `models`."""
    given = spec.get("options")
    if isinstance(given, list):
        return [o for o in given if isinstance(o, dict)]
    if not isinstance(given, Mapping):
        return []
    providers = [p for p in manifest.get("Providers") or [] if isinstance(p, dict)]
    if given.get("type") == "static":
        return [o for o in given.get("options") or [] if isinstance(o, dict)]
    if given.get("type") == "providers":
        return [{"label": p.get("name") or p.get("id"), "value": p.get("name") or p.get("id"),
                 "description": p.get("api_base_url")} for p in providers]
    if given.get("type") == "models":
        field = re.sub(r"^\{\{(.*)\}\}$", r"\1", str(given.get("providerField") or ""))
        chosen = values.get(field)
        for p in providers:
            if chosen is not None and chosen in (p.get("name"), p.get("id")):
                return [{"label": m, "value": m} for m in p.get("models") or [] if isinstance(m, str)]
    return []


def js_string(value: Any) -> str:
    """JavaScript's String(value) for JSON values."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join("" if v is None else js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def to_number(value: Any) -> float | int:
    """JavaScript's Number() for what a user types; NaN when it is not a number."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    text = str(value).strip() if value is not None else ""
    if not text:
        return 0
    try:
        number = float(text)
    except ValueError:
        return math.nan
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def coerce(spec: Mapping[str, Any], value: Any) -> Any:
    return to_number(value) if input_type(spec) == "number" and value not in (None, "") else value


def validate(spec: Mapping[str, Any], value: Any) -> str | None:
    """CCR's validateInput: the message for an invalid value, None when it is fine."""
    name = label(spec)
    if is_required(spec) and value in (None, ""):
        return f"{name} is required"
    if not value and not (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0
                          and is_required(spec)):
        return None
    if input_type(spec) == "number":
        number = to_number(value)
        if isinstance(number, float) and math.isnan(number):
            return f"{name} must be a number"
        if isinstance(spec.get("min"), (int, float)) and number < spec["min"]:
            return f"{name} must be at least {js_string(spec['min'])}"
        if isinstance(spec.get("max"), (int, float)) and number > spec["max"]:
            return f"{name} must be at most {js_string(spec['max'])}"
    pattern = spec.get("validator")
    if isinstance(pattern, str) and pattern:
        try:
            if not re.search(pattern, js_string(value)):
                return f"{name} format is invalid"
        except re.error:
            return f"{name} format is invalid (the preset's validator is not a valid pattern)"
    return None
