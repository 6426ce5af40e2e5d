"""The app under test as a real server process, behind aiohttp's TestClient.

`make_client` (conftest.py) uses this when the run asks for it (`--server-workers N`): the test's
config file is served by `ccr_aio --workers N --config PATH --port P`, a parent that binds the
port and forks N workers, and the test talks to it through the same `TestClient` API as to the
in-process app (`make_url`, `get`/`post`/..., `session`, `port`, `close`), so `sdk(client)` and
the raw-HTTP helpers work unchanged. What only an in-process app has (`client.app`,
`client.server.runner`) fails loudly: such a test is marked `in_process`.

Start: ready once `/health` answers and every worker logged that it listens (so the kernel
can hand the test's connections to any of them), within a deadline; a port taken meanwhile
by another process means another port; a config that cannot start is the ConfigError the
in-process app raises, with the message the server printed. Stop (after the test, or a start
that failed): SIGTERM (the workers drain), again past a deadline (the parent kills its workers
at once), then SIGKILL; every worker is waited for. A worker that died during the test fails
it: the parent would have hidden that behind a replacement.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import select
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import BaseTestServer, TestClient
from yarl import URL

from ccr_aio.cli import daemon
from ccr_aio.settings import ConfigError
from tests.server_forker import Forker
from tests.test_cli import healthy, wait_for
from tests.test_process import free_port

START_S = 60.0  # generous: the box may be busy with other work
STOP_S = 10.0  # the drain after SIGTERM; requests in flight end when the client goes
KILL_S = 5.0
PORT_TRIES = 3
SHOWN_LINES = 40
INFO_LEVELS = ("info", "debug", "trace")


class InProcessOnly(AssertionError):
    """A test of the server process reached for the in-process app."""


def _exited_now(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


async def _exited(fd: int, timeout: float) -> bool:
    """Whether the process behind pidfd `fd` ended within `timeout` (it becomes readable)."""
    if _exited_now(fd):
        return True
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()
    loop.add_reader(fd, lambda: ended.done() or ended.set_result(None))
    try:
        await asyncio.wait_for(ended, timeout)
        return True
    except asyncio.TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)


async def _end(fd: int, first: signal.Signals = signal.SIGTERM) -> None:
    """Signal the process (`first`, again `first`, then SIGKILL) until it has ended."""
    for sig, wait in ((first, STOP_S), (first, KILL_S), (signal.SIGKILL, KILL_S)):
        if _exited_now(fd):
            return
        try:
            signal.pidfd_send_signal(fd, sig)
        except ProcessLookupError:
            return
        if await _exited(fd, wait):
            return
    raise AssertionError("a server process outlived SIGKILL")


def _open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None


class ServerProcess(BaseTestServer):
    """One `ccr_aio` server for one test: the config file, environment and worker count given."""

    def __init__(self, forker: Forker, config_path: Path, env: dict[str, str], workers: int,
                 output: Path) -> None:
        super().__init__(host="127.0.0.1")
        self.forker, self.config_path, self.env = forker, config_path, env
        self.workers, self.output = workers, output
        self.pidfd: int | None = None

    @property
    def home(self) -> Path:
        return self.config_path.parent

    async def _make_runner(self, **kwargs: Any) -> Any:
        raise InProcessOnly("a server process has no in-process runner")

    def text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def _tail(self) -> str:
        return "\n".join(self.text().splitlines()[-SHOWN_LINES:])

    def _logs_info(self) -> bool:
        level = self.env.get("LOG_LEVEL") or str(_config_value(self.config_path, "LOG_LEVEL") or "info")
        return level.lower() in INFO_LEVELS

    async def start_server(self, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any) -> None:
        for attempt in range(PORT_TRIES):
            port = free_port()
            # Where the in-process app listens too: whatever HOST the config names (a first-run
            # config listens on 0.0.0.0 all the same, as the server is made to).
            argv = ["--workers", str(self.workers), "--config", str(self.config_path),
                    "--host", "127.0.0.1", "--port", str(port)]
            pid = await asyncio.to_thread(self.forker.spawn, argv, self.env, self.output)
            self.pidfd = _open_pidfd(pid)
            try:
                ready = self.pidfd is not None and await self._ready(f"http://127.0.0.1:{port}")
            except BaseException:
                await self._stop()
                raise
            if ready:
                self.port, self._root = port, URL(f"http://127.0.0.1:{port}")
                return
            text = self.text()
            self._forget_process()
            if "ccr-aio: " in text and "cannot listen" not in text:  # the config cannot start
                raise ConfigError(text.rsplit("ccr-aio: ", 1)[1].strip())
            if "cannot listen" not in text or attempt == PORT_TRIES - 1:
                raise AssertionError(f"the server process ended during its start:\n{self._tail()}")

    async def _ready(self, url: str) -> bool:
        """True once it answers with every worker listening; False if it ended first."""
        fd = self.pidfd
        assert fd is not None

        async def ready_or_ended() -> str | None:
            if _exited_now(fd):
                return "ended"
            if "worker_died" in self.text():  # the parent would restart it again and again
                raise AssertionError(f"a worker died during the start:\n{self._tail()}")
            if not await healthy(url):
                return None
            listening = self.text().count("worker_listening") >= self.workers or not self._logs_info()
            return "ready" if listening else None

        return await wait_for(ready_or_ended, timeout=START_S, what=f"{url} with {self.workers} workers") == "ready"

    def _forget_process(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    async def _stop(self) -> None:
        if self.pidfd is None:
            return
        info = daemon.read_pid(self.home)
        workers = [fd for fd in map(_open_pidfd, (info.workers or []) if info else []) if fd is not None]
        try:
            await _end(self.pidfd)
            for fd in workers:  # they got SIGTERM from the parent, or at its death
                await _end(fd)
        finally:
            for fd in workers:
                os.close(fd)
            self._forget_process()

    async def close(self) -> None:
        if self._closed or self.pidfd is None:
            return
        self._closed = True
        await self._stop()
        print(f"--- server process output (last {SHOWN_LINES} lines) ---\n{self._tail()}")
        assert "worker_died" not in self.text(), f"a worker died during the test:\n{self._tail()}"


def process_state(pid: int) -> str | None:
    """The state letter /proc gives the process (R, S, T for stopped, Z...), None once gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


@contextlib.asynccontextmanager
async def stopped(pid: int) -> AsyncIterator[None]:
    """The process is stopped (SIGSTOP) inside and continued (SIGCONT) after, whatever happens:
    a stopped worker accepts no connection, so the other workers get them all."""
    os.kill(pid, signal.SIGSTOP)
    try:
        await wait_for(lambda: process_state(pid) == "T", what=f"process {pid} stopped")
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def event_pids(client: Any, event: str) -> list[int]:
    """The PIDs of the processes that logged `event`, in order (a server process's console)."""
    # The console is not a terminal here: key=value lines (`event='route' ... pid=123`).
    pattern = re.compile(rf"\bevent='{re.escape(event)}'.*? pid=(\d+)")
    return [int(m.group(1)) for m in pattern.finditer(client.server.text())]


def serving_pids(client: Any) -> set[int]:
    """The processes that answer the client's requests: the workers, or this process."""
    if not isinstance(client.server, ServerProcess):
        return {os.getpid()}
    info = daemon.read_pid(client.server.home)
    return set(info.workers or []) if info else set()


def routed_by(client: Any) -> set[int]:
    """The processes that routed a /v1/messages request so far (in process: this one)."""
    if not isinstance(client.server, ServerProcess):
        return {os.getpid()}
    return set(event_pids(client, "route"))


@contextlib.asynccontextmanager
async def on_another_worker(client: Any, after: str) -> AsyncIterator[None]:
    """Requests made inside go to another worker than the one that logged `after` last (it is
    stopped meanwhile): what they need from that worker's requests must have reached them.
    In process (a single process) this changes nothing."""
    if not isinstance(client.server, ServerProcess):
        yield
        return
    pids = event_pids(client, after)
    assert pids, f"no {after!r} in the server's output"
    async with stopped(pids[-1]):
        yield


def _config_value(path: Path, key: str) -> Any:
    try:
        return json.loads(path.read_text()).get(key)
    except (OSError, ValueError, AttributeError):
        return None


class ServerProcessClient(TestClient):
    """aiohttp's TestClient on a server process; the in-process app is not there to read.
    Every request opens a new connection (so does `sdk(client)`): a kept-alive connection
    would pin the test to one worker, while each new one goes to whichever worker accepts it
    first, so state one request leaves is often read by the other worker."""

    fresh_connections = True

    @property
    def app(self) -> Any:
        raise InProcessOnly("this test reads the in-process app: mark it `in_process`")


async def start_client(forker: Forker, config_path: Path, env: dict[str, str], workers: int,
                       output: Path) -> ServerProcessClient:
    client = ServerProcessClient(ServerProcess(forker, config_path, env, workers, output),
                                 connector=aiohttp.TCPConnector(force_close=True))
    await client.start_server()
    return client
