"""/metrics with workers: each process writes its values to files in one directory and a scrape
sums the files (prometheus_client's multi-process mode, records/metrics_files.py). The workers
here are real processes (spawned), each switched to files as a server's worker is; this one
stays in memory, as a single-process server does."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from ccr_aio.records import Recorder, UsageStore, metrics_files
from tests.test_records_e2e import metric_samples


def first_worker(directory: str, usage: str) -> None:
    """Two recorders in one process, taking turns (their counts must add up, not overwrite each
    other's), a store whose queue holds 2, a request still in flight at its end."""
    metrics_files.use_directory(Path(directory))

    async def main() -> None:
        store = await UsageStore.open(usage, max_queue=2, flush_interval_s=60)
        first, second = Recorder(store=store), Recorder()
        for i, recorder in enumerate((first, second, first, first)):  # first's third: queue full
            recorder.finish(recorder.start(f"a{i}", stream=True), 200)
        second.start("left", stream=True)

    asyncio.run(main())


def second_worker(directory: str) -> None:
    metrics_files.use_directory(Path(directory))
    recorder = Recorder()
    recorder.finish(recorder.start("c", stream=False), 429)
    recorder.start("left", stream=False)


def run(target: Any, *args: str) -> int:
    """Run `target(*args)` in a fresh process to its end; its PID."""
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    process.join(timeout=60)
    assert process.exitcode == 0 and process.pid is not None
    return process.pid


def scrape(directory: Path) -> dict[str, list[Any]]:
    registry = CollectorRegistry()
    metrics_files.sum_workers(registry, directory)  # what a worker's /metrics renders
    return metric_samples(generate_latest(registry).decode())


def by_label(samples: list[Any], label: str) -> dict[str, float]:
    return {s.labels[label]: s.value for s in samples}


def test_a_scrape_sums_the_workers_and_keeps_a_dead_ones_counters(tmp_path: Path):
    directory = metrics_files.fresh_directory(tmp_path)
    first = run(first_worker, str(directory), str(tmp_path / "usage.db"))
    run(second_worker, str(directory))
    found = scrape(directory)
    assert by_label(found["ccr_requests_total"], "status") == {"200": 4, "429": 1}
    assert by_label(found["ccr_requests_in_flight"], "stream") == {"true": 1, "false": 1}
    assert [s.value for s in found["ccr_usage_records_queued"]] == [2]
    assert [s.value for s in found["ccr_usage_records_lost_total"]] == [1]
    # The parent reaped the first worker: what it had in flight or queued is gone, not its counts.
    metrics_files.worker_ended(directory, first)
    found = scrape(directory)
    assert by_label(found["ccr_requests_total"], "status") == {"200": 4, "429": 1}
    assert by_label(found["ccr_requests_in_flight"], "stream") == {"false": 1}
    assert "ccr_usage_records_queued" not in found
    assert [s.value for s in found["ccr_usage_records_lost_total"]] == [1]
    assert metrics_files.directory() is None  # this process never left memory
    assert not any(directory.glob(f"*_{os.getpid()}.db"))


def test_each_start_gets_a_fresh_private_directory_and_the_stop_removes_it(tmp_path: Path):
    leftover = tmp_path / metrics_files.DIRECTORY  # a parent that was killed left its files
    leftover.mkdir(mode=0o755)
    (leftover / "counter_123.db").write_bytes(b"\0" * 16)
    made = metrics_files.fresh_directory(tmp_path)
    assert made == leftover and list(made.iterdir()) == []
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    metrics_files.remove_directory(made)
    assert not made.exists()
    metrics_files.remove_directory(made)  # already gone: nothing to do
