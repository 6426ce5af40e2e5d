"""The usage database file: private, in WAL mode, at the schema version this code knows.

Several processes (the workers of one server, or a CLI reading while the server writes) use
one file: WAL lets readers run beside the one writer, `busy_timeout` makes a writer wait for
another's short transaction instead of failing, and every write transaction starts with
`BEGIN IMMEDIATE` so it takes the write lock up front (a deferred one that reads first can
fail with SQLITE_BUSY without waiting). Creating or migrating the schema happens inside such
a transaction, so two processes opening a new file at once do it once.
"""

from __future__ import annotations

import os
import stat
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000
FILE_MODE = 0o600

# MIGRATIONS[n] takes the file from version n to n + 1; never edit one that shipped.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE requests (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            time REAL NOT NULL,
            session TEXT,
            project TEXT,
            client_key TEXT,
            scenario TEXT,
            requested_model TEXT,
            provider TEXT,
            model TEXT,
            attempts INTEGER NOT NULL,
            providers_tried TEXT NOT NULL,
            stream INTEGER NOT NULL,
            status INTEGER NOT NULL,
            error TEXT,
            ttfb_ms REAL,
            duration_ms REAL NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cache_creation_tokens INTEGER NOT NULL,
            cost_usd REAL
        )""",
        # The list (newest first, optionally one filter), the usage window and retention.
        "CREATE INDEX requests_time ON requests (time)",
        "CREATE INDEX requests_session ON requests (session, time)",
        "CREATE INDEX requests_project ON requests (project, time)",
        "CREATE INDEX requests_provider ON requests (provider, time)",
        "CREATE INDEX requests_model ON requests (model, time)",
        "CREATE INDEX requests_id ON requests (id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The file was written by a newer version; this one must not guess at its columns."""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database, ready for use from any one thread at a time."""
    create_private(path)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
        # With WAL, NORMAL loses at most the last commits on power loss, never corrupts.
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def create_private(path: Path) -> None:
    """The file exists and only its owner can read it (it tells who used which model when);
    SQLite gives the -wal and -shm files the same mode.

    An existing file is never opened here: closing any descriptor of a database file drops
    every POSIX lock this process holds on it, also those of SQLite connections already open
    in this process (SQLite's "how to corrupt" §2.2) — that loses commits of other processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
            os.chmod(path, FILE_MODE)
        return
    try:
        os.fchmod(fd, FILE_MODE)  # whatever the umask
    finally:
        os.close(fd)


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection) -> None:
    with write_transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(f"usage database schema {version} is newer than this version's "
                               f"{SCHEMA_VERSION}")
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                conn.execute(statement)
        if version != SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _retry_locked(step: Callable[[], object], deadline_s: float = BUSY_TIMEOUT_MS / 1000) -> None:
    """Switching to WAL needs a moment alone with the file; two processes opening it at once
    can be told "locked" without the busy handler waiting, so wait here."""
    deadline = time.monotonic() + deadline_s
    delay = 0.005
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)  # a blocking open in a worker thread, never on the event loop
        delay = min(delay * 2, 0.1)
