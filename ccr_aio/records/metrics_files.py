"""The metrics of `--workers N`: prometheus_client's multi-process mode, values in files.

Each worker is its own process with its own memory, so a `/metrics` that renders the counters
in memory shows the answering worker's only, and a scraper sees them jump from one worker's to
another's as the kernel picks one. In this mode every worker writes each value to mmap'd files
in one directory (a file per kind of metric and process) and `/metrics` sums all the files:
every worker's counts, those of workers that died too (counters never go down).

Who calls what:
- the parent, before it forks: `fresh_directory(home)`; for each worker it reaps:
  `worker_ended(directory, pid)`, so the dead worker's in-flight requests stop counting; when it
  stops or re-execs: `remove_directory(directory)`;
- a worker, before its app (and so its `Metrics`) is built: `use_directory(directory)`;
- `Metrics` asks `directory()` which mode this process is in.

A single-process server never calls `use_directory`: its values stay in memory, with no file
and no write per increment. A restart (`/api/restart`: the parent re-execs) makes a fresh
directory, so the counters start over, as they do in a single process that restarts; a
scraper reads that as the counter reset of a restarted process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from prometheus_client import CollectorRegistry, multiprocess, values

ENV = "PROMETHEUS_MULTIPROC_DIR"
DIRECTORY = "worker-metrics"  # in the server's home
DIR_MODE = 0o700  # the server's user only, like its logs: the counts describe its traffic

_directory: Path | None = None


def fresh_directory(home: Path) -> Path:
    """An empty directory, 0700, for this run's files; what an earlier run left (a parent that
    was killed) goes first: its workers' files would add to this run's counts."""
    path = home / DIRECTORY
    remove_directory(path)
    path.mkdir(mode=DIR_MODE)
    os.chmod(path, DIR_MODE)  # exactly, whatever bits the umask took off
    return path


def remove_directory(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)


def use_directory(path: Path) -> None:
    """This process (a worker) keeps its metrics in files in `path`. Call it before the first
    `Metrics` of the process; again with the same path, it does nothing."""
    global _directory
    if _directory is not None:
        if _directory != path:
            raise RuntimeError(f"metrics already go to {_directory}, not {path}")
        return
    # prometheus_client picks its value class once, when it is imported, from this variable;
    # the parent imported it before forking, so that choice was "in memory". Metrics read
    # `values.ValueClass` each time a metric or a label child is made, so setting it here,
    # before any exists, switches this process alone: the parent, its environment (which a
    # re-exec passes on) and a single-process server keep the in-memory values. The variable
    # is set too because the file values read it for their file names.
    os.environ[ENV] = str(path)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]  # the library's own, untyped
    _directory = path


def directory() -> Path | None:
    """Where this process's metrics go, or None: in memory."""
    return _directory


def sum_workers(registry: CollectorRegistry, path: Path) -> None:
    """`registry` renders the sum of the files in `path`: every worker's values."""
    multiprocess.MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]


def worker_ended(path: Path, pid: int) -> None:
    """A worker is gone: its live gauges (requests in flight, records queued) leave the sums;
    its counters stay."""
    multiprocess.mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]
