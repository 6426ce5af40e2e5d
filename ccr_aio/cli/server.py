"""The foreground server: AppRunner + TCPSite so shutdown, reload and restart are ours.

- SIGTERM/SIGINT: stop listening, let in-flight requests finish (up to SHUTDOWN_GRACE_S),
  remove the PID file, exit 0. A second signal during that wait kills at once.
- SIGHUP: reload the config file in place (same as POST /api/reload).
- POST /api/restart: after the answer is sent, stop listening, let in-flight requests finish
  (up to RESTART_GRACE_S), then `execve` the same interpreter with `-m ccr_aio` and the same
  arguments. The PID stays the same (so the PID file and systemd's MainPID stay right) and the
  new process binds the same port, reading the config file afresh.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

import structlog
from aiohttp import web

from .. import __version__
from ..app import create_app
from ..logs import close_logging, setup_logging
from ..routes.admin import ADMIN, reload_from_disk
from ..settings import ConfigError, Settings
from . import daemon

SHUTDOWN_GRACE_S = 30.0
RESTART_GRACE_S = 10.0
RESTART = "restart"
log = structlog.get_logger("ccr_aio")


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
    for warning in settings.warnings:
        log.warning("startup_warning", message=warning)
    log.info("starting", host=settings.host, port=settings.port, config=str(settings.config_path),
             version=__version__)
    try:
        outcome = asyncio.run(_run(settings, overrides))
    except KeyboardInterrupt:  # a second Ctrl-C during the graceful wait
        outcome = 130
    if outcome == RESTART:
        log.info("restarting", argv=list(argv))
        close_logging()
        return _reexec(argv)
    log.info("stopped", code=outcome)
    close_logging()
    return int(outcome)


async def _run(settings: Settings, overrides: dict[str, Any]) -> int | str:
    loop = asyncio.get_running_loop()
    app = create_app(settings)
    outcome: asyncio.Future[int | str] = loop.create_future()

    def finish(value: int | str) -> None:
        if not outcome.done():
            outcome.set_result(value)

    admin = app[ADMIN]
    admin.overrides = dict(overrides)
    admin.restart = lambda: finish(RESTART)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        log.error("cannot_listen", host=settings.host, port=settings.port, error=reason)
        print(f"ccr-aio: cannot listen on {settings.host}:{settings.port}: {reason}", file=sys.stderr)
        await runner.cleanup()
        return 1
    reloads: set[asyncio.Task[None]] = set()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, finish, 0)
    loop.add_signal_handler(signal.SIGHUP, _reload_on_signal, app, reloads)
    daemon.write_pid(settings.home, daemon.PidInfo(
        pid=os.getpid(), port=settings.port, host=settings.host, config=str(settings.config_path),
        started=time.time(), version=__version__))
    log.info("listening", url=f"http://{settings.host}:{settings.port}")
    try:
        result = await outcome
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    grace = RESTART_GRACE_S if result == RESTART else SHUTDOWN_GRACE_S
    # The runner's grace is fixed at construction; a restart should not wait as long as a stop.
    try:
        runner._shutdown_timeout = grace  # noqa: SLF001
    except AttributeError:  # pragma: no cover - a future aiohttp without the attribute
        pass
    log.info("shutting_down", reason="restart" if result == RESTART else "signal", grace_s=grace)
    await runner.cleanup()  # closes the listening socket, waits for handlers, runs cleanup_ctx
    if result != RESTART:
        daemon.remove_pid(settings.home, os.getpid())
    return result


def _reload_on_signal(app: web.Application, tasks: set[asyncio.Task[None]]) -> None:
    task = asyncio.ensure_future(_reload(app))
    tasks.add(task)  # keep a reference until done
    task.add_done_callback(tasks.discard)


async def _reload(app: web.Application) -> None:
    try:
        await reload_from_disk(app)
    except ConfigError as exc:
        log.error("reload_failed", error=str(exc), note="still running with the previous config")


def _reexec(argv: Sequence[str]) -> int:
    command = daemon.python_command(*argv)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, command, daemon.child_env())
    except OSError as exc:
        print(f"ccr-aio: restart failed: cannot exec {sys.executable}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0  # pragma: no cover - execve does not return
