"""The size limits: `BODY_BUDGET_MB`, `UPSTREAM_LINE_MAX_MB` and `UPSTREAM_ERROR_MAX_KB`, each
a positive number (fractions allowed), and `BODY_BUDGET_WAIT_MS` (0 = never wait); unset = the
default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import MIB, Limits
from .problems import At, Findings, kind

# File key -> (Limits field, bytes or ms per unit of the key).
_KEYS: dict[str, tuple[str, int]] = {
    "BODY_BUDGET_MB": ("body_budget", MIB),
    "BODY_BUDGET_WAIT_MS": ("body_wait_ms", 1),
    "UPSTREAM_LINE_MAX_MB": ("upstream_line", MIB),
    "UPSTREAM_ERROR_MAX_KB": ("upstream_error", 1024),
}


def parse_limits(data: Mapping[str, Any], found: Findings) -> Limits:
    values: dict[str, int] = {}
    for key, (field, unit) in _KEYS.items():
        value = data.get(key)
        if value is None or value == "":
            continue
        number = _number(value)
        waits = field == "body_wait_ms"
        if number is None or number < 0 or (number == 0 and not waits):
            what = "a number of milliseconds (0 or more)" if waits else "a positive number"
            found.add(At.key(key), f"must be {what}, got {kind(value) if number is None else repr(value)}")
            continue
        values[field] = int(number * unit) if waits else max(int(number * unit), 1)
    return Limits(**values)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        try:
            return _number(float(value.strip()))
        except ValueError:
            return None
    return None
