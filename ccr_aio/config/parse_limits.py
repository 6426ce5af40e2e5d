"""The server's own limits: timeouts in milliseconds, a connection cap, and the sizes one client
or provider may make the server hold (`BODY_BUDGET_MB`, `UPSTREAM_LINE_MAX_MB` and
`UPSTREAM_ERROR_MAX_KB`, fractions allowed; `BODY_BUDGET_WAIT_MS`, where 0 means never wait).

A bad value is a problem that does not block: start-up falls back to the default and logs why
(whatever a config file holds, the server must start), while a save through the API refuses it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .model import MIB, ServerLimits
from .problems import At, Findings, kind


@dataclass(frozen=True)
class _Key:
    field: str  # the ServerLimits field it sets
    unit: float  # one unit of the key in the field's unit (seconds or bytes)
    what: str  # what the key must be, as the problem says it
    zero_ok: bool = False

    def value(self, number: float) -> float | int:
        scaled = number * self.unit
        return scaled if isinstance(_DEFAULTS[self.field], float) else max(int(scaled), 1)

    def default(self) -> str:
        return f"{_DEFAULTS[self.field] / self.unit:g}"


_MS, _POSITIVE = "a positive number of milliseconds", "a positive number"
_KEYS = {
    "HEADER_TIMEOUT_MS": _Key("header_timeout", 0.001, _MS),
    "BODY_TIMEOUT_MS": _Key("body_timeout", 0.001, _MS),
    "KEEPALIVE_TIMEOUT_MS": _Key("keepalive_timeout", 0.001, _MS),
    "SHUTDOWN_GRACE_MS": _Key("shutdown_grace", 0.001, _MS),
    "RESTART_GRACE_MS": _Key("restart_grace", 0.001, _MS),
    "BODY_BUDGET_MB": _Key("body_budget", MIB, _POSITIVE),
    "BODY_BUDGET_WAIT_MS": _Key("body_wait", 0.001, "a number of milliseconds (0 or more)", zero_ok=True),
    "UPSTREAM_LINE_MAX_MB": _Key("upstream_line", MIB, _POSITIVE),
    "UPSTREAM_ERROR_MAX_KB": _Key("upstream_error", 1024, _POSITIVE),
}
_DEFAULTS: dict[str, float | int] = {
    f.name: f.default for f in fields(ServerLimits) if isinstance(f.default, (int, float))
}


def _number(value: Any) -> float | None:
    """A finite number, from a number or a numeric string; None for anything else."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def parse_limits(data: Mapping[str, Any], found: Findings) -> ServerLimits:
    values: dict[str, Any] = {}
    for name, key in _KEYS.items():
        value = data.get(name)
        if value is None or value == "":
            continue
        number = _number(value)
        if number is None or number < 0 or (number == 0 and not key.zero_ok):
            got = kind(value) if number is None else repr(value)
            found.add(At.key(name), f"must be {key.what}, got {got}; using the default {key.default()}",
                      blocks=False)
        else:
            values[key.field] = key.value(number)
    if data.get("MAX_CONNECTIONS") is not None:
        number = _number(data["MAX_CONNECTIONS"])
        if number is None or number < 1:
            found.add(At.key("MAX_CONNECTIONS"), "must be a positive number; using the descriptor limit",
                      blocks=False)
        else:
            values["max_connections"] = int(number)
    return ServerLimits(**values)
