"""The server's own limits: timeouts in milliseconds and a connection cap.

A bad value is a problem that does not block: start-up falls back to the default and logs why
(whatever a config file holds, the server must start), while a save through the API refuses it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from .model import ServerLimits
from .problems import At, Findings

_SECONDS = {
    "HEADER_TIMEOUT_MS": "header_timeout",
    "BODY_TIMEOUT_MS": "body_timeout",
    "KEEPALIVE_TIMEOUT_MS": "keepalive_timeout",
    "SHUTDOWN_GRACE_MS": "shutdown_grace",
    "RESTART_GRACE_MS": "restart_grace",
}
_DEFAULTS: dict[str, float] = {
    f.name: f.default for f in fields(ServerLimits) if isinstance(f.default, (int, float))
}


def _positive(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def parse_limits(data: Mapping[str, Any], found: Findings) -> ServerLimits:
    values: dict[str, Any] = {}
    for key, name in _SECONDS.items():
        if data.get(key) is None:
            continue
        number = _positive(data[key])
        if number is None:
            default_ms = float(_DEFAULTS[name]) * 1000
            found.add(At.key(key), f"must be a positive number of milliseconds; using the default "
                      f"{default_ms:.0f}", blocks=False)
        else:
            values[name] = number / 1000
    if data.get("MAX_CONNECTIONS") is not None:
        number = _positive(data["MAX_CONNECTIONS"])
        if number is None or number < 1:
            found.add(At.key("MAX_CONNECTIONS"), "must be a positive number; using the descriptor limit",
                      blocks=False)
        else:
            values["max_connections"] = int(number)
    return ServerLimits(**values)
