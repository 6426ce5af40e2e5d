"""`WORKERS` (processes sharing the port) and `REDIS_URL` (state shared across instances).

A bad value does not block start-up (one worker, no Redis, and the log says why); a save
through the API refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .problems import At, Findings

MAX_WORKERS = 256
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def parse_workers(data: Mapping[str, Any], found: Findings) -> int:
    value = data.get("WORKERS")
    if value is None:
        return 1
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WORKERS:
        found.add(At.key("WORKERS"), f"must be a whole number from 1 to {MAX_WORKERS}; using 1", blocks=False)
        return 1
    return value


def parse_redis_url(data: Mapping[str, Any], found: Findings) -> str | None:
    value = data.get("REDIS_URL")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.startswith(REDIS_SCHEMES):
        found.add(At.key("REDIS_URL"), "must be a redis://, rediss:// or unix:// URL; shared state stays local",
                  blocks=False)
        return None
    return value
