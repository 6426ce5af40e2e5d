"""Several processes (the workers of one server) write one usage file at the same time."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from pathlib import Path
from typing import Any

from ccr_aio.records import UsageDatabase, UsageStore
from tests.records_helpers import make_record

PER_PROCESS = 1500
WRITERS = ("alpha", "beta")


def write_records(path: str, name: str, barrier: Any, results: Any) -> None:
    """One worker: opens the (new) file when the others do, then writes small batches often,
    so its transactions interleave with theirs."""

    async def main() -> tuple[int, int, int]:
        barrier.wait(timeout=60)
        store = await UsageStore.open(path, batch_size=7, flush_interval_s=0.001)
        for i in range(PER_PROCESS):
            store.submit(make_record(id=f"{name}-{i}", time=time.time(), session=name))
            if i % 5 == 4:
                await store.flush()  # many small transactions: the two processes take turns
        await store.aclose()
        return store.written, store.failed, store.dropped

    results.put((name, *asyncio.run(main())))


def test_two_processes_write_one_file_without_losing_a_row(tmp_path: Path):
    path = tmp_path / "usage.db"  # not created yet: both processes race to create it
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(WRITERS)), ctx.Queue()
    processes = [ctx.Process(target=write_records, args=(str(path), name, barrier, results))
                 for name in WRITERS]
    for process in processes:
        process.start()
    reports = sorted(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    # written, failed (e.g. "database is locked"), dropped — per process
    assert reports == [(name, PER_PROCESS, 0, 0) for name in sorted(WRITERS)]
    db = UsageDatabase(path)
    assert db.count() == PER_PROCESS * len(WRITERS)
    by_session = {row["key"]: row["requests"] for row in db.usage("session")["rows"]}
    assert by_session == {name: PER_PROCESS for name in WRITERS}
    ids = set()
    before = None
    while True:
        page = db.requests(limit=1000, before=before)
        ids.update(r["id"] for r in page["requests"])
        before = page["next_before"]
        if before is None:
            break
    assert len(ids) == PER_PROCESS * len(WRITERS)
    db.close()
