"""Records to disk without a request ever waiting for it.

`submit` only puts the record on a bounded queue (no await, no I/O). A background task wakes
when the first record arrives, lingers up to `flush_interval_s` (or until `batch_size` are
waiting) and writes what is queued in one transaction in a worker thread. A disk that is
stuck or a file that stays locked fills the queue; beyond `max_queue` records are dropped
and counted, with a warning at most once a minute, instead of memory growing without bound.
`aclose` writes what is still queued. Retention is applied at open and then at most once per
`prune_interval_s`, after a write. `on_change`, when set, is called each time `queued`, `dropped`
or `failed` may have changed (the metrics of a worker write them to its files then).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .database import DEFAULT_RETENTION_DAYS, UsageDatabase
from .record import RequestRecord

log = logging.getLogger(__name__)

DEFAULT_PATH = Path("~/.claude-code-router/usage.db")
DROP_WARNING_INTERVAL_S = 60.0


class UsageStore:
    def __init__(
        self,
        database: UsageDatabase,
        *,
        batch_size: int = 256,
        flush_interval_s: float = 1.0,
        max_queue: int = 10_000,
        prune_interval_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Call from a running event loop: the writer task starts here."""
        self.database = database
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.prune_interval_s = prune_interval_s
        self.clock = clock
        self.written = 0  # records on disk
        self.dropped = 0  # records never queued: the queue was full, or the store closed
        self.failed = 0  # records whose write failed (disk full, file locked too long)
        self.on_change: Callable[[], None] | None = None
        self._queue: asyncio.Queue[RequestRecord] = asyncio.Queue(max_queue)
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._closing = False
        self._last_prune = clock()
        self._last_drop_warning: float | None = None
        self._task = asyncio.create_task(self._run(), name="usage-store-writer")

    @classmethod
    async def open(cls, path: Path | str = DEFAULT_PATH, *,
                   retention_days: float | None = DEFAULT_RETENTION_DAYS,
                   clock: Callable[[], float] = time.time, **options: Any) -> UsageStore:
        """Open (or create) the file and prune it, off the event loop."""
        def opened() -> UsageDatabase:
            database = UsageDatabase(Path(path), retention_days=retention_days, clock=clock)
            database.prune()
            return database

        return cls(await asyncio.to_thread(opened), clock=clock, **options)

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def submit(self, record: RequestRecord) -> bool:
        """Queue a record for the next batch; False when it had to be dropped."""
        if self._closing:
            self._dropped("usage store is closed")
            return False
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self._dropped("usage queue is full: the disk is not keeping up")
            return False
        waiting = self._queue.qsize()
        if waiting == 1 or waiting >= self.batch_size:
            self._wake.set()
        self._changed()
        return True

    async def flush(self) -> None:
        """Write everything queued now (tests, and readers that want the latest records)."""
        await self._write_queued()

    async def prune(self) -> int:
        self._last_prune = self.clock()
        async with self._write_lock:
            return await asyncio.to_thread(self.database.prune)

    async def requests(self, **filters: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self.database.requests, **filters)

    async def usage(self, group_by: str, **window: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self.database.usage, group_by, **window)

    async def aclose(self, timeout_s: float = 10.0) -> None:
        """Write what is queued and close the file. A disk stuck past `timeout_s` loses the
        queued records (said in the log) rather than hanging the server's shutdown."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(self._task)
        except TimeoutError:
            log.error("usage records lost at shutdown: the disk did not answer in %.0f s "
                      "(%d queued)", timeout_s, self._queue.qsize())
            return  # the writer thread still holds the connection: leave it to the exit
        await asyncio.to_thread(self.database.close)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._closing and self._queue.qsize() < self.batch_size:
                try:  # gather a batch; a full batch or closing sets the event again
                    async with asyncio.timeout(self.flush_interval_s):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()
            await self._write_queued()
            if self.clock() - self._last_prune >= self.prune_interval_s:
                await self._prune_quietly()
            if self._closing and self._queue.empty():
                return

    async def _write_queued(self) -> None:
        async with self._write_lock:
            while not self._queue.empty():
                batch = [self._queue.get_nowait()
                         for _ in range(min(self.batch_size, self._queue.qsize()))]
                try:
                    await asyncio.to_thread(self.database.insert, batch)
                except Exception as exc:  # noqa: BLE001 - the writer must outlive a bad disk
                    self.failed += len(batch)
                    log.warning("usage records not written (%d): %s", len(batch), exc)
                else:
                    self.written += len(batch)
                self._changed()

    async def _prune_quietly(self) -> None:
        try:
            deleted = await self.prune()
        except Exception as exc:  # noqa: BLE001
            log.warning("usage retention prune failed: %s", exc)
        else:
            if deleted:
                log.info("usage records past retention deleted: %d", deleted)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _dropped(self, reason: str) -> None:
        self.dropped += 1
        self._changed()
        now = self.clock()
        last = self._last_drop_warning
        if last is None or now - last >= DROP_WARNING_INTERVAL_S:
            self._last_drop_warning = now
            log.warning("usage record dropped (%d so far): %s", self.dropped, reason)
