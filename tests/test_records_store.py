"""The usage file: private, versioned, pruned, and written in batches that no request waits for."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from ccr_aio.records import SCHEMA_VERSION, SchemaTooNew, UsageDatabase, UsageStore
from ccr_aio.records.record import RequestRecord
from tests.records_helpers import T0, make_record, wait_until
from tests.resilience_helpers import FakeClock

DAY = 86_400.0


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_round_trip_in_a_private_versioned_file(tmp_path: Path):
    path = tmp_path / "new-dir" / "usage.db"
    clock = FakeClock(T0 + 10)  # the records are recent: retention keeps them
    store = await UsageStore.open(path, clock=clock)
    records = [make_record(id=f"r{i}", time=T0 + i) for i in range(3)]
    assert all(store.submit(r) for r in records)
    await store.flush()
    assert store.written == 3
    assert (await store.requests())["requests"] == [r.to_dict() for r in reversed(records)]
    for name in ("usage.db", "usage.db-wal", "usage.db-shm"):
        assert mode(path.parent / name) == 0o600, name
    await store.aclose()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    again = await UsageStore.open(path, clock=clock)  # survives a restart
    assert (await again.usage("day"))["total"]["requests"] == 3
    await again.aclose()


async def test_an_existing_file_is_made_private(tmp_path: Path):
    path = tmp_path / "usage.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    UsageDatabase(path).close()
    assert mode(path) == 0o600


def test_a_file_from_a_newer_version_is_refused(tmp_path: Path):
    path = tmp_path / "usage.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew):
        UsageDatabase(path)


def test_retention_deletes_only_what_is_older(tmp_path: Path):
    clock = FakeClock(T0 + 91 * DAY)
    db = UsageDatabase(tmp_path / "usage.db", retention_days=90, clock=clock)
    db.insert([make_record(id="old", time=T0), make_record(id="kept", time=T0 + 2 * DAY)])
    assert db.prune() == 1
    assert [r["id"] for r in db.requests()["requests"]] == ["kept"]
    clock.advance(10 * DAY)
    assert db.prune() == 1 and db.count() == 0
    db.close()


def test_zero_retention_keeps_everything(tmp_path: Path):
    db = UsageDatabase(tmp_path / "usage.db", retention_days=0, clock=FakeClock(T0 + 1000 * DAY))
    db.insert([make_record(time=T0)])
    assert db.prune() == 0 and db.count() == 1
    db.close()


async def test_the_store_prunes_at_open_and_then_periodically(tmp_path: Path):
    path = tmp_path / "usage.db"
    seed = UsageDatabase(path, retention_days=None)
    seed.insert([make_record(id="ancient", time=T0 - 200 * DAY),
                 make_record(id="aging", time=T0 - 89.5 * DAY)])
    seed.close()
    clock = FakeClock(T0)
    store = await UsageStore.open(path, retention_days=90, clock=clock, prune_interval_s=3600,
                                  flush_interval_s=0.01)
    assert store.database.count() == 1  # "ancient" went at open
    clock.advance(DAY)  # "aging" is now past retention, and an hour has passed since the prune
    store.submit(make_record(id="new", time=clock()))
    await wait_until(lambda: store.database.count() == 1 and store.written == 1, what="prune")
    assert [r["id"] for r in (await store.requests())["requests"]] == ["new"]
    await store.aclose()


class StuckDisk(UsageDatabase):
    """A disk that hangs on write until released, then works."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.release = threading.Event()
        self.writing = threading.Event()

    def insert(self, records: Any) -> None:
        self.writing.set()
        if not self.release.wait(timeout=30):
            raise OSError("disk stuck")
        super().insert(records)


async def test_submit_never_waits_for_a_stuck_disk_and_drops_beyond_the_bound(tmp_path: Path,
                                                                           caplog: Any):
    disk = StuckDisk(tmp_path / "usage.db")
    store = UsageStore(disk, batch_size=4, max_queue=10, flush_interval_s=0.001)
    first = [make_record(id=f"first{i}") for i in range(4)]
    for record in first:
        assert store.submit(record)  # a full batch wakes the writer: it hangs in the disk
    await wait_until(lambda: disk.writing.is_set() and store.queued == 0, what="stuck write")
    caplog.set_level(logging.WARNING, logger="ccr_aio.records.store")
    loop = asyncio.get_running_loop()
    started = loop.time()
    accepted = [store.submit(make_record(id=f"more{i}")) for i in range(25)]  # no await at all
    assert loop.time() - started < 0.5
    assert accepted == [True] * 10 + [False] * 15  # the queue is bounded
    assert store.dropped == 15 and store.queued == 10
    warnings = [r for r in caplog.records if "usage record dropped" in r.getMessage()]
    assert len(warnings) == 1  # once, not per record
    disk.release.set()  # the disk comes back: everything that was accepted is written
    await store.aclose()
    check = UsageDatabase(tmp_path / "usage.db")
    assert check.count() == 14 and store.written == 14
    check.close()


class FailingDisk(UsageDatabase):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.fail_next = True

    def insert(self, records: Any) -> None:
        if self.fail_next:
            self.fail_next = False
            raise sqlite3.OperationalError("disk I/O error")
        super().insert(records)


async def test_a_failed_write_is_counted_and_the_writer_goes_on(tmp_path: Path):
    store = UsageStore(FailingDisk(tmp_path / "usage.db"), flush_interval_s=0.001)
    store.submit(make_record(id="lost"))
    await wait_until(lambda: store.failed == 1, what="failed write")
    store.submit(make_record(id="kept"))
    await store.flush()
    assert [r["id"] for r in (await store.requests())["requests"]] == ["kept"]
    await store.aclose()


async def test_close_writes_what_is_queued_and_refuses_more(tmp_path: Path):
    # A long linger: only the close can write these.
    store = await UsageStore.open(tmp_path / "usage.db", flush_interval_s=3600, retention_days=None)
    for i in range(50):
        store.submit(make_record(id=f"r{i}", time=T0 + i))
    await store.aclose()
    assert store.written == 50
    assert store.submit(make_record(id="late")) is False and store.dropped == 1
    check = UsageDatabase(tmp_path / "usage.db")
    assert check.count() == 50
    check.close()


async def test_a_full_batch_is_written_without_waiting_for_the_interval(tmp_path: Path):
    store = await UsageStore.open(tmp_path / "usage.db", batch_size=8, flush_interval_s=3600)
    records: list[RequestRecord] = [make_record(id=f"r{i}") for i in range(8)]
    for record in records:
        store.submit(record)
    await wait_until(lambda: store.written == 8, what="batch written")
    await store.aclose()


async def test_close_gives_up_on_a_disk_that_never_answers(tmp_path: Path, caplog: Any):
    disk = StuckDisk(tmp_path / "usage.db")
    store = UsageStore(disk, flush_interval_s=0.001)
    store.submit(make_record())
    await wait_until(disk.writing.is_set, what="stuck write")
    caplog.set_level(logging.ERROR, logger="ccr_aio.records.store")
    await store.aclose(timeout_s=0.05)  # the shutdown goes on
    assert any("lost at shutdown" in r.getMessage() for r in caplog.records)
    disk.release.set()
    await wait_until(lambda: store.written == 1, what="the late write to finish")
