"""Run by tests/test_workers.py as `python -m tests.slow_start_worker DIR`: a Supervisor with one
worker that takes its time to start (until DIR/go exists), as a real worker does while it builds
its app. It writes DIR/starting (its PID) at once and DIR/reloaded (its PID) when its loop got a
SIGHUP; it ends on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

from ccr_aio.cli import workers

START_DEADLINE_S = 30.0


def tell(path: Path) -> None:
    """Write this process's PID to `path` at once: the test never reads a half-written file."""
    part = path.with_suffix(".part")
    part.write_text(str(os.getpid()))
    part.rename(path)


async def serve(folder: Path) -> int:
    loop = asyncio.get_running_loop()
    reloaded, ended = loop.create_future(), loop.create_future()
    loop.add_signal_handler(signal.SIGHUP, reloaded.set_result, None)
    loop.add_signal_handler(signal.SIGTERM, ended.set_result, None)
    workers.take_signals([signal.SIGHUP, signal.SIGTERM])
    await reloaded
    tell(folder / "reloaded")
    await ended
    return 0


def main(folder: Path) -> int | str:
    def run_worker(held: list[socket.socket], role: workers.Role) -> int:
        tell(folder / "starting")
        deadline = time.monotonic() + START_DEADLINE_S
        while not (folder / "go").exists():  # the test sends its SIGHUP meanwhile
            if time.monotonic() > deadline:
                return 3
            time.sleep(0.01)
        return asyncio.run(serve(folder))

    return workers.Supervisor(1, [], run_worker, lambda pids: None, 1.0, 1.0).run()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
