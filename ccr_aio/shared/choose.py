"""Which shared-state backend a server runs with.

- one worker, no `REDIS_URL`: none — the in-process objects, exactly as a single process
  has always worked;
- N workers, no `REDIS_URL`: one SQLite file in the home dir, shared by the workers;
- `REDIS_URL`: Redis, failing over to the local choice above while Redis is away.
"""

from __future__ import annotations

from pathlib import Path

from .backend import Backend, MemoryBackend
from .failover import FailoverBackend

STATE_FILE = "state.sqlite"


def prepare_state_file(home: Path, workers: int) -> None:
    """Before forking N workers: the SQLite file they will share, ready (see sqlite_backend)."""
    if workers > 1:
        from .sqlite_backend import prepare

        prepare(Path(home) / STATE_FILE)


def open_backend(home: Path, workers: int, redis_url: str | None) -> Backend | None:
    local: Backend | None = None
    if workers > 1:
        from .sqlite_backend import SqliteBackend

        local = SqliteBackend(Path(home) / STATE_FILE)
    if not redis_url:
        return local
    from .redis_backend import RedisBackend

    return FailoverBackend(RedisBackend(redis_url), local or MemoryBackend())
