"""Request records: `USAGE`, `USAGE_RETENTION_DAYS` and the debugging switch `LOG_BODIES`.

A bad value is a problem that does not block (as the server limits): start-up uses the
default and logs why, a save through the API refuses it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .problems import At, Findings, kind

DEFAULT_RETENTION_DAYS = 90.0


def parse_switch(data: Mapping[str, Any], key: str, default: bool, found: Findings) -> bool:
    """true / false (also as the strings "true" / "false", which `$VAR` gives)."""
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    found.add(At.key(key), f"must be true or false, got {kind(value)}; using {str(default).lower()}",
              blocks=False)
    return default


def parse_retention(data: Mapping[str, Any], found: Findings) -> float:
    """Days of records to keep; 0 keeps them all."""
    value = data.get("USAGE_RETENTION_DAYS")
    if value is None or value == "":
        return DEFAULT_RETENTION_DAYS
    number: float | None = None
    if not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
    if number is None or not math.isfinite(number) or number < 0:
        found.add(At.key("USAGE_RETENTION_DAYS"), f"must be a number of days >= 0 (0 keeps every "
                  f"record), got {value!r}; using {DEFAULT_RETENTION_DAYS:g}"[:240], blocks=False)
        return DEFAULT_RETENTION_DAYS
    return number
