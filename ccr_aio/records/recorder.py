"""The one object the request path and the API use: start a record, finish it, read them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .builder import RecordBuilder
from .database import DEFAULT_RETENTION_DAYS
from .metrics import Metrics
from .record import RequestRecord
from .store import DEFAULT_PATH, UsageStore


class Recorder:
    def __init__(
        self,
        metrics: Metrics | None = None,
        store: UsageStore | None = None,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.perf_counter,
    ) -> None:
        """Without a store (`USAGE: false`) there are metrics and log lines, no database."""
        self.metrics = metrics or Metrics()
        self.store = store
        self.clock = clock
        self.monotonic = monotonic
        if store is not None:
            store.on_change = self.metrics.watch_store(lambda: store.queued,
                                                       lambda: store.dropped + store.failed)

    @classmethod
    async def open(cls, *, usage: bool = True, path: Path | str = DEFAULT_PATH,
                   retention_days: float | None = DEFAULT_RETENTION_DAYS,
                   **store_options: Any) -> Recorder:
        store = await UsageStore.open(path, retention_days=retention_days,
                                      **store_options) if usage else None
        return cls(store=store)

    def start(self, request_id: str, *, stream: bool, **fields: Any) -> RecordBuilder:
        """A request arrived. `fields` are any of the builder's: session, project, client_key,
        scenario, requested_model (the rest are filled in as the request goes)."""
        builder = RecordBuilder(id=request_id, stream=stream, time=self.clock(),
                                started=self.monotonic(), monotonic=self.monotonic, **fields)
        self.metrics.started(stream)
        return builder

    def set_stream(self, builder: RecordBuilder, stream: bool) -> None:
        """Whether the request streams, once its body says so (it may be read after `start`)."""
        if builder.stream != stream and not builder.finished:
            self.metrics.moved(builder.stream, stream)
            builder.stream = stream

    def finish(self, builder: RecordBuilder, status: int,
               error: BaseException | str | None = None) -> RequestRecord | None:
        """The request ended (call from a `finally`). Returns the record the first time, for
        the log line; later calls do nothing and return None. Never waits for the disk."""
        record = builder.finish(status, error)
        if record is None:
            return None
        self.metrics.observe(record)
        if self.store is not None:
            self.store.submit(record)
        return record

    async def aclose(self) -> None:
        """After the last request finished: write what is queued."""
        if self.store is not None:
            await self.store.aclose()
