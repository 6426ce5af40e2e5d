"""How many client connections the server holds at once, from the descriptor limit.

The timeouts and the configured cap are part of the config model (`config.ServerLimits`).
"""

from __future__ import annotations

try:
    import resource
except ImportError:  # pragma: no cover - not POSIX
    resource = None  # type: ignore[assignment]

# Every client connection may need one upstream connection too; keep this many descriptors
# for everything else (listening sockets, log files, the event loop, DNS, plugins).
FD_RESERVE = 64
MIN_CONNECTIONS = 8


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
