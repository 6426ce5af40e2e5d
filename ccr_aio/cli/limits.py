"""How long the server waits for clients and for itself, and how many connections it holds.

Read once at start from top-level config keys (milliseconds, like `API_TIMEOUT_MS`); a reload
does not change them. A value that is not a positive number falls back to its default with a
start-up warning instead of stopping the server: whatever the config API accepted must start.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

try:
    import resource
except ImportError:  # pragma: no cover - not POSIX
    resource = None  # type: ignore[assignment]

# Every client connection may need one upstream connection too; keep this many descriptors
# for everything else (listening sockets, log files, the event loop, DNS, plugins).
FD_RESERVE = 64
MIN_CONNECTIONS = 8


@dataclass(frozen=True)
class ServerLimits:
    header_timeout: float = 10.0  # from accept (or a request's first byte) to its last header
    body_timeout: float = 60.0  # from the last header to the last byte of the body
    keepalive_timeout: float = 75.0  # an idle kept-alive connection is closed after this
    shutdown_grace: float = 30.0  # SIGTERM/SIGINT: in-flight requests get this long
    restart_grace: float = 10.0  # POST /api/restart: the same, shorter
    max_connections: int | None = None  # None: as many as the descriptor limit allows


_SECONDS = {
    "HEADER_TIMEOUT_MS": "header_timeout",
    "BODY_TIMEOUT_MS": "body_timeout",
    "KEEPALIVE_TIMEOUT_MS": "keepalive_timeout",
    "SHUTDOWN_GRACE_MS": "shutdown_grace",
    "RESTART_GRACE_MS": "restart_grace",
}


def _positive(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def read_limits(config: Mapping[str, Any]) -> tuple[ServerLimits, list[str]]:
    """The limits a config asks for, and a warning for each value that had to be ignored."""
    values: dict[str, Any] = {}
    warnings: list[str] = []
    for key, field in _SECONDS.items():
        if config.get(key) is None:
            continue
        number = _positive(config[key])
        if number is None:
            warnings.append(f"{key} must be a positive number of milliseconds; using the default "
                            f"{getattr(ServerLimits, field) * 1000:.0f}")
        else:
            values[field] = number / 1000
    if config.get("MAX_CONNECTIONS") is not None:
        number = _positive(config["MAX_CONNECTIONS"])
        if number is None or number < 1:
            warnings.append("MAX_CONNECTIONS must be a positive number; using the descriptor limit")
        else:
            values["max_connections"] = int(number)
    return ServerLimits(**values), warnings


def fd_soft_limit() -> int | None:
    if resource is None:  # pragma: no cover
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else int(soft)


def connection_cap(configured: int | None, soft_limit: int | None) -> int:
    """Client connections held at once: below the descriptor limit, so accept() never fails
    with EMFILE and an in-flight request can still open its upstream connection."""
    fd_cap = None if soft_limit is None else max(MIN_CONNECTIONS, (soft_limit - FD_RESERVE) // 2)
    candidates = [c for c in (configured, fd_cap) if c is not None]
    return min(candidates) if candidates else 10_000
