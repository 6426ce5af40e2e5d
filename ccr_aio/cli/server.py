"""The foreground server: our own listening sockets, AppRunner and shutdown, so the deadlines
in the README hold.

- SIGTERM/SIGINT: close the listening socket, close idle connections, let in-flight requests
  finish until the grace period (SHUTDOWN_GRACE_MS, 30 s) is nearly over, then cut the rest
  (an SSE stream ends with an `error` event, see drain.py), remove the PID file, exit 0 — all
  within the grace. A second signal during that wait kills at once.
- SIGHUP: reload the config file in place (same as POST /api/reload).
- A first-run server (listening on 0.0.0.0) that gets providers and no APIKEY moves its
  listening socket to 127.0.0.1 at once (`admin.rebind`); open connections carry on.
- `--workers N` (N > 1): a parent holds the sockets and supervises N forked workers, each
  running the server below (workers.py); the parent owns the PID file and the directory of the
  workers' metric files (records/metrics_files.py). A config change in one worker is in force
  in all before its answer (config_generation.py).
- POST /api/restart: after the answer is sent, stop accepting but keep the listening socket
  open (connections wait in its backlog), drain the same way within RESTART_GRACE_MS (10 s),
  then `execve` the same interpreter with `-m ccr_aio` and the same arguments, passing the
  socket on (sockets.py). The PID stays the same (so the PID file and systemd's MainPID stay
  right) and the port never refuses a connection; the new process reads the config afresh.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import structlog
from aiohttp import web

from .. import __version__
from ..app import create_app
from ..drain import INFLIGHT, Inflight
from ..logs import close_logging, setup_logging
from ..memory import release_free_memory
from ..records import metrics_files
from ..routes.admin import ADMIN, reload_from_disk
from ..routing.tokens import load_encoding_logged
from ..settings import ConfigError, Settings
from ..shared import prepare_state_file
from ..state import build_snapshot
from . import daemon, sockets, workers
from .config_generation import ConfigGeneration
from .connections import ConnectionGuard, GuardedRequestHandler
from ..config import ServerLimits
from .limits import connection_cap, fd_soft_limit

RESTART = workers.RESTART
CUT_RESERVE_S = 0.5  # before the deadline: time for cut requests to send their error and end
CLEANUP_S = 0.5  # aiohttp's own per-connection wait, once our drain is over
log = structlog.get_logger("ccr_aio")
Outcome = int | str


def serve(settings: Settings, overrides: dict[str, Any], *, console: bool, argv: Sequence[str]) -> int:
    """Run until stopped; returns the exit code (or re-execs itself on restart)."""
    setup_logging(settings, console=console)
    other = daemon.running(settings.home)
    if other is not None and other.pid != os.getpid():
        message = (f"ccr-aio is already running (PID {other.pid}, port {other.port}) for "
                   f"{settings.home}; stop it first with `ccr-aio stop`")
        log.error("already_running", pid=other.pid)
        print(f"ccr-aio: {message}", file=sys.stderr)
        close_logging()
        return 1
    limits = settings.config.limits
    skipped = [str(p) for p in settings.problems if not p.blocks]  # e.g. a bad timeout: default used
    for warning in (*settings.warnings, *skipped):
        log.warning("startup_warning", message=warning)
    log.info("starting", host=settings.host, port=settings.port, config=str(settings.config_path),
             version=__version__)
    listeners: list[socket.socket] = []
    if settings.workers > 1:
        outcome = _supervise(settings, overrides, listeners)
    else:
        try:
            outcome = asyncio.run(_run(settings, overrides, limits, listeners))
        except KeyboardInterrupt:  # a second Ctrl-C during the graceful wait
            outcome = 130
    if outcome == RESTART:
        log.info("restarting", argv=list(argv))
        close_logging()
        return _reexec(argv, listeners)
    sockets.close_all(listeners)
    log.info("stopped", code=outcome)
    close_logging()
    return int(outcome)


def _listen(settings: Settings, listeners: list[socket.socket]) -> bool:
    try:
        listeners += (sockets.inherited_listeners(settings.host, settings.port)
                      or sockets.open_listeners(settings.host, settings.port))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        log.error("cannot_listen", host=settings.host, port=settings.port, error=reason)
        print(f"ccr-aio: cannot listen on {settings.host}:{settings.port}: {reason}", file=sys.stderr)
        return False
    return True


def _pid_info(settings: Settings, worker_pids: list[int] | None = None) -> daemon.PidInfo:
    return daemon.PidInfo(
        pid=os.getpid(), port=settings.port, host=settings.host, config=str(settings.config_path),
        started=time.time(), version=__version__, grace=settings.config.limits.shutdown_grace,
        workers=worker_pids)


def _supervise(settings: Settings, overrides: dict[str, Any], listeners: list[socket.socket]) -> Outcome:
    """The parent of N workers; the sockets stay open on return when restarting."""
    # What each worker builds first. A config that cannot start (a transformer that fails to
    # build) ends the start here with its error, as with one process, instead of workers that
    # die as they start, again and again.
    snapshot = build_snapshot(settings)
    if snapshot.routing.custom is not None or settings.config.router.long_context:
        # Loaded before the fork, the tokenizer's ~23 MB of tables live in pages the workers
        # only read, so they share one copy instead of loading one each on their first count.
        load_encoding_logged()
        release_free_memory()  # the Python copy of its ranks, freed, not left in every worker
    if not _listen(settings, listeners):
        return 1
    limits = settings.config.limits
    started = _pid_info(settings).started
    try:
        prepare_state_file(settings.home, settings.workers)
    except (OSError, sqlite3.Error) as exc:
        log.error("state_file_unusable", error=str(exc))
        print(f"ccr-aio: cannot prepare {settings.home}/state.sqlite: {exc}", file=sys.stderr)
        return 1
    # Every start makes it afresh, a restart's too: the counters start over, as with one process.
    try:
        metrics_dir = metrics_files.fresh_directory(settings.home)
    except OSError as exc:
        log.error("metrics_dir_unusable", error=str(exc))
        print(f"ccr-aio: cannot prepare {settings.home / metrics_files.DIRECTORY}: {exc}", file=sys.stderr)
        return 1

    generation = ConfigGeneration()  # before the fork: shared by the workers

    def run_worker(held: list[socket.socket], role: workers.Role) -> int:
        metrics_files.use_directory(metrics_dir)  # before its app: /metrics sums every worker
        outcome = asyncio.run(_run(settings, overrides, limits, list(held), role, generation))
        return 0 if outcome == RESTART else int(outcome)

    def on_change(pids: list[int]) -> None:
        daemon.write_pid(settings.home, replace(_pid_info(settings, pids), started=started))

    log.info("listening", url=f"http://{settings.host}:{settings.port}", workers=settings.workers)
    supervisor = workers.Supervisor(settings.workers, listeners, run_worker, on_change,
                                    limits.shutdown_grace, limits.restart_grace,
                                    on_exit=partial(metrics_files.worker_ended, metrics_dir))
    try:
        outcome = supervisor.run()
    finally:  # on return every worker has ended; on an error they end with the parent
        metrics_files.remove_directory(metrics_dir)
    if outcome != RESTART:
        daemon.remove_pid(settings.home, os.getpid())
    return outcome


async def _run(settings: Settings, overrides: dict[str, Any], limits: ServerLimits,
               listeners: list[socket.socket], role: workers.Role | None = None,
               generation: ConfigGeneration | None = None) -> Outcome:
    """Serve until a signal or a restart; `listeners` is filled with the listening sockets,
    which stay open on return when the outcome is a restart. A worker (`role`) gets the
    parent's sockets, leaves the PID file to it, asks it for restarts and reloads, and
    keeps its config in step with the other workers' (`generation`)."""
    if role is None and not _listen(settings, listeners):
        return 1
    loop = asyncio.get_running_loop()
    app = create_app(settings)
    outcome: asyncio.Future[Outcome] = loop.create_future()

    def finish(value: Outcome) -> None:
        if not outcome.done():
            outcome.set_result(value)

    admin = app[ADMIN]
    admin.overrides = dict(overrides)
    admin.restart = role.ask_restart if role else lambda: finish(RESTART)
    if role is not None and generation is not None:
        app.middlewares.insert(0, generation.middleware)  # first: auth reads the config too

        def reloaded() -> None:
            generation.changed_here()
            role.ask_reload()

        admin.reloaded = reloaded
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=CLEANUP_S)
    await runner.setup()
    guard = ConnectionGuard(connection_cap(limits.max_connections, fd_soft_limit()),
                            limits.header_timeout, limits.body_timeout)

    def protocol() -> GuardedRequestHandler:
        return GuardedRequestHandler(runner.server, guard, loop=loop, access_log=None,
                                     keepalive_timeout=limits.keepalive_timeout)

    sites = [sockets.ListenerSite(runner, sock, protocol) for sock in listeners]
    for site in sites:
        await site.start()
    # Workers share the parent's socket: moving it is the parent's job, so they cannot rebind
    # (a first-run server with workers answers only this machine, like an embedded one).
    admin.rebind = None if role else _rebinder(runner, sites, listeners, protocol, settings, finish)
    reloads: set[asyncio.Task[None]] = set()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, finish, 0)
    reload = partial(generation.reload, app, always=True) if role and generation else partial(_reload, app)
    loop.add_signal_handler(signal.SIGHUP, _reload_on_signal, reload, reloads)
    handled = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
    if role is None:
        daemon.write_pid(settings.home, _pid_info(settings))
        log.info("listening", url=f"http://{settings.host}:{settings.port}", max_connections=guard.limit)
    else:  # the parent's SIGUSR1: everyone drains for a restart
        loop.add_signal_handler(signal.SIGUSR1, finish, RESTART)
        handled.append(signal.SIGUSR1)
        workers.take_signals(handled)
        log.info("worker_listening", worker=os.getpid(), max_connections=guard.limit)
    try:
        result = await outcome
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)  # back to the default action, which for SIGHUP ends
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the process: a reload while draining is moot
    restarting = result == RESTART
    grace = limits.restart_grace if restarting else limits.shutdown_grace
    log.info("shutting_down", reason="restart" if restarting else "signal", grace_s=grace,
             in_flight=len(app[INFLIGHT].tasks))
    deadline = loop.time() + grace
    for site in sites:
        await site.stop()  # accept no more; a restart keeps the socket itself open
    if not restarting:
        sockets.close_all(listeners)
        listeners.clear()
    guard.close_idle()
    if runner.server is not None:  # set up above; None only before setup()
        runner.server.pre_shutdown()  # no keep-alive after the answers in flight
    await _finish_requests(app[INFLIGHT], deadline, grace)
    await runner.cleanup()  # what is left is idle; then cleanup_ctx (the upstream session)
    if not restarting and role is None:
        daemon.remove_pid(settings.home, os.getpid())
    return result


async def _finish_requests(inflight: Inflight, deadline: float, grace: float) -> None:
    """Wait for the requests in flight; near the deadline, cut those still running."""
    if await inflight.wait_empty(deadline - min(CUT_RESERVE_S, grace / 4)):
        return
    log.warning("cutting_requests", count=inflight.cut_all(), grace_s=grace)
    if not await inflight.wait_empty(deadline):
        log.error("requests_ignored_the_cut", count=len(inflight.tasks))


def _rebinder(runner: web.AppRunner, sites: list[sockets.ListenerSite], listeners: list[socket.socket],
              protocol: Callable[[], GuardedRequestHandler], settings: Settings,
              finish: Callable[[Outcome], None]) -> Callable[[str], Awaitable[None]]:
    """`rebind(host)`: listen on `host` instead, same port. The old listening sockets close
    first (the kernel will not bind 127.0.0.1:port while 0.0.0.0:port is bound); connections
    already open carry on. `sites` and `listeners` are changed in place, so shutdown and
    restart see the new ones. If the new bind fails, the server stops with exit code 1."""

    async def rebind(host: str) -> None:
        port = listeners[0].getsockname()[1] if listeners else settings.port
        for site in sites:
            await site.stop()
        sockets.close_all(listeners)
        listeners.clear()
        sites.clear()
        try:
            listeners.extend(sockets.open_listeners(host, port))
        except OSError as exc:
            log.error("cannot_listen", host=host, port=port, error=exc.strerror or str(exc))
            finish(1)
            return
        for sock in listeners:
            site = sockets.ListenerSite(runner, sock, protocol)
            await site.start()
            sites.append(site)
        info = daemon.read_pid(settings.home)
        if info is not None and info.pid == os.getpid():
            daemon.write_pid(settings.home, replace(info, host=host))
        log.info("listening", url=f"http://{host}:{port}")

    return rebind


def _reload_on_signal(reload: Callable[[], Awaitable[None]], tasks: set[asyncio.Task[None]]) -> None:
    task = asyncio.ensure_future(reload())
    tasks.add(task)  # keep a reference until done
    task.add_done_callback(tasks.discard)


async def _reload(app: web.Application) -> None:
    try:
        await reload_from_disk(app)
    except ConfigError as exc:
        log.error("reload_failed", error=str(exc), note="still running with the previous config")


def _reexec(argv: Sequence[str], listeners: list[socket.socket]) -> int:
    command = daemon.python_command(*argv)
    env = daemon.child_env()
    sockets.pass_on_exec(listeners, env)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, command, env)
    except OSError as exc:
        sockets.close_all(listeners)
        print(f"ccr-aio: restart failed: cannot exec {sys.executable}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0  # pragma: no cover - execve does not return
