"""The usage file from Python: blocking calls, meant for worker threads (`asyncio.to_thread`).

One connection writes — the store's writer task hands it one batch at a time — and another
reads under a lock, so an API query never waits behind a batch being written (WAL).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .queries import requests_page, usage_summary
from .record import RequestRecord
from .rows import INSERT_SQL, to_row
from .schema import connect, write_transaction

DAY_S = 86_400
DEFAULT_RETENTION_DAYS = 90.0
PRUNE_CHUNK = 5_000  # rows per delete transaction: other writers never wait long behind one


class UsageDatabase:
    def __init__(self, path: Path, *, retention_days: float | None = DEFAULT_RETENTION_DAYS,
                 clock: Callable[[], float] = time.time) -> None:
        """`retention_days` None or 0 keeps everything."""
        self.path = Path(path).expanduser()
        self.retention_days = retention_days
        self.clock = clock
        self._writer = connect(self.path)
        self._reader = connect(self.path)
        self._reader.row_factory = sqlite3.Row
        self._read_lock = threading.Lock()

    def insert(self, records: Sequence[RequestRecord]) -> None:
        if not records:
            return
        with write_transaction(self._writer) as conn:
            conn.executemany(INSERT_SQL, [to_row(record) for record in records])

    def prune(self, now: float | None = None) -> int:
        """Delete what is older than the retention; returns how many rows went."""
        if not self.retention_days:
            return 0
        cutoff = (self.clock() if now is None else now) - self.retention_days * DAY_S
        deleted = 0
        while True:
            with write_transaction(self._writer) as conn:
                count = conn.execute(
                    "DELETE FROM requests WHERE seq IN"
                    " (SELECT seq FROM requests WHERE time < ? LIMIT ?)",
                    (cutoff, PRUNE_CHUNK)).rowcount
            deleted += count
            if count < PRUNE_CHUNK:
                return deleted

    def requests(self, **filters: Any) -> dict[str, Any]:
        with self._read_lock:
            return requests_page(self._reader, **filters)

    def usage(self, group_by: str, **window: Any) -> dict[str, Any]:
        with self._read_lock:
            return usage_summary(self._reader, group_by, **window)

    def count(self) -> int:
        with self._read_lock:
            return int(self._reader.execute("SELECT count(*) FROM requests").fetchone()[0])

    def close(self) -> None:
        self._writer.close()
        with self._read_lock:
            self._reader.close()
