"""Shared state in one SQLite file (WAL) in the home dir: N worker processes on one machine.

Each call runs in a thread (SQLite blocks); one connection per process, serialised by a lock.
`update` is one IMMEDIATE transaction, so two workers changing a record cannot lose a write.
Expired rows are swept on writes, and each space keeps at most `max_items` rows.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from ..records.schema import create_private
from .backend import MAX_ITEMS, Change, limit_of

SCHEMA = """CREATE TABLE IF NOT EXISTS kv (
  space TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, expires REAL NOT NULL,
  PRIMARY KEY (space, key))"""
BUSY_TIMEOUT_S = 10.0


def prepare(path: Path) -> None:
    """Create the file (0600: it holds users' images) in WAL mode with its table. The parent
    does this once before forking: switching to WAL needs the file alone, which workers that
    open it at the same moment would not get."""
    create_private(path)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(SCHEMA)
    finally:
        db.close()


class SqliteBackend:
    def __init__(self, path: Path, max_items: int = MAX_ITEMS) -> None:
        self.path, self.max_items = path, max_items
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            if not self.path.exists():  # made by the parent of the workers; tests start here
                prepare(self.path)
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA synchronous=NORMAL")
            self._db = db
        return self._db

    def _get_many(self, space: str, keys: list[str]) -> dict[str, bytes]:
        if not keys:
            return {}
        with self._lock:
            marks = ",".join("?" * len(keys))
            rows = self._connect().execute(
                f"SELECT key, value FROM kv WHERE space=? AND expires>? AND key IN ({marks})",
                (space, time.time(), *keys)).fetchall()
        return {key: bytes(value) for key, value in rows}

    def _write(self, db: sqlite3.Connection, space: str, key: str, value: bytes, ttl: float) -> None:
        now = time.time()
        db.execute("INSERT OR REPLACE INTO kv (space, key, value, expires) VALUES (?, ?, ?, ?)",
                   (space, key, value, now + ttl))
        db.execute("DELETE FROM kv WHERE space=? AND expires<=?", (space, now))
        db.execute("DELETE FROM kv WHERE space=? AND key NOT IN (SELECT key FROM kv WHERE space=? "
                   "ORDER BY expires DESC LIMIT ?)", (space, space, limit_of(space, self.max_items)))

    def _update(self, space: str, key: str, change: Change | None, value: bytes, ttl: float) -> bytes:
        with self._lock:
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                if change is not None:
                    row = db.execute("SELECT value FROM kv WHERE space=? AND key=? AND expires>?",
                                     (space, key, time.time())).fetchone()
                    value = change(bytes(row[0]) if row else None)
                self._write(db, space, key, value, ttl)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return value

    def _items(self, space: str) -> dict[str, bytes]:
        with self._lock:
            rows = self._connect().execute("SELECT key, value FROM kv WHERE space=? AND expires>?",
                                           (space, time.time())).fetchall()
        return {key: bytes(value) for key, value in rows}

    def _clear(self, space: str) -> None:
        with self._lock:
            self._connect().execute("DELETE FROM kv WHERE space=?", (space,))

    def _close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    async def get_many(self, space: str, keys: Iterable[str]) -> dict[str, bytes]:
        return await asyncio.to_thread(self._get_many, space, list(keys))

    async def put(self, space: str, key: str, value: bytes, ttl: float) -> None:
        await asyncio.to_thread(self._update, space, key, None, value, ttl)

    async def update(self, space: str, key: str, change: Change, ttl: float) -> bytes:
        return await asyncio.to_thread(self._update, space, key, change, b"", ttl)

    async def items(self, space: str) -> dict[str, bytes]:
        return await asyncio.to_thread(self._items, space)

    async def clear(self, space: str) -> None:
        await asyncio.to_thread(self._clear, space)

    async def close(self) -> None:
        await asyncio.to_thread(self._close)
