"""State that matters across requests, shared by worker processes and, with Redis, machines.

- `backend.py`: the small key/value interface (`Backend`) and the in-process one.
- `sqlite_backend.py`: one SQLite file (WAL) in the home dir, for N workers on one machine.
- `redis_backend.py`: Redis (`REDIS_URL`), keys `ccr:<space>:<key>`, every one with a TTL.
- `failover.py`: Redis first, local state while Redis is away (logged once each way).
- `health.py`: the resilience `HealthStore` over a `Backend`.
- `choose.py`: which backend a server gets from its settings.
"""

from __future__ import annotations

from .backend import Backend, MemoryBackend
from .choose import open_backend, prepare_state_file
from .health import SharedHealthStore

__all__ = ["Backend", "MemoryBackend", "SharedHealthStore", "open_backend", "prepare_state_file"]
