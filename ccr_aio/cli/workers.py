"""`--workers N`: one parent holds the listening sockets and forks N workers that serve them.

Why a parent that binds and forks (not SO_REUSEPORT): the server already owns its listening
sockets (sockets.py) so a restart can pass them across `execve` without ever refusing a
connection. With one socket shared by inheritance that design carries over unchanged: the
parent re-execs with the same socket while the workers drain, and the kernel keeps queueing
connections meanwhile. The workers accept from one queue, so a busy worker does not get
connections it cannot take yet (SO_REUSEPORT hashes connections to a fixed worker), and a
port held by a stray process is an error at start, not a silent split of the traffic.

The parent runs no event loop: it waits for signals (blocked, taken with sigtimedwait):
- SIGCHLD: a worker died → log it, tell `on_exit` (its live metrics leave the sums) and fork a
  replacement (after a short, growing pause when workers die right after starting, so a
  broken config does not spin);
- SIGHUP: forward to every worker (each reloads its config); a worker that applied a save or
  /api/reload sends SIGHUP to the parent, so a reload reaches all workers;
- SIGUSR1: /api/restart in a worker → every worker drains (RESTART_GRACE_MS), then the parent
  re-execs itself with the same sockets and forks fresh workers from the new config;
- SIGTERM/SIGINT: every worker drains (SHUTDOWN_GRACE_MS); a second one kills them at once.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger("ccr_aio")
SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1}
RESTART = "restart"
STOP_MARGIN_S = 2.0  # past the workers' own grace before they are killed
QUICK_DEATH_S = 1.0  # a worker that dies sooner than this after its start is crash-looping
MAX_PAUSE_S = 5.0
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Role:
    """What a worker knows of its parent: how to ask for a restart or a reload of all."""

    parent: int

    def ask_restart(self) -> None:
        os.kill(self.parent, signal.SIGUSR1)

    def ask_reload(self) -> None:
        os.kill(self.parent, signal.SIGHUP)


def take_signals(handled: list[signal.Signals]) -> None:
    """A worker's loop now handles `handled`: deliver those sent while it was starting."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, handled)


RunWorker = Callable[[list[socket.socket], Role], int]  # serves until stopped; the exit code


def _end_with_parent(parent: int) -> None:
    """Linux: a worker gets SIGTERM (and drains) when the parent dies, even by SIGKILL, so no
    orphan keeps serving the port."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's SIGTERM still reaches workers
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _nothing(pid: int) -> None:
    pass


class Supervisor:
    """`on_change(pids)`: the set of workers changed; `on_exit(pid)`: a worker ended (reaped)."""

    def __init__(self, count: int, listeners: list[socket.socket], run_worker: RunWorker,
                 on_change: Callable[[list[int]], None], shutdown_grace: float, restart_grace: float,
                 on_exit: Callable[[int], None] = _nothing) -> None:
        self.count, self.listeners, self.run_worker = count, listeners, run_worker
        self.on_change, self.shutdown_grace, self.restart_grace = on_change, shutdown_grace, restart_grace
        self.on_exit = on_exit
        self.workers: dict[int, float] = {}  # pid -> when it started (monotonic)
        self._pause = 0.0

    def _spawn(self) -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker: default signal handling, then serve
            code = 1
            try:
                for sig in SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                # The rest stay blocked (pending) until its loop handles them (`take_signals`):
                # a reload's SIGHUP reaching a worker still starting would end it otherwise.
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
                _end_with_parent(parent)
                code = self.run_worker(self.listeners, Role(parent))
            except KeyboardInterrupt:
                code = 130
            except BaseException:  # noqa: BLE001 - a worker must never return into the parent's loop
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.workers[pid] = time.monotonic()
        log.info("worker_started", worker=pid)

    def _reap(self) -> list[tuple[int, int, float]]:
        """(pid, exit code, when it started) of every worker that ended."""
        dead: list[tuple[int, int, float]] = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return dead
            if pid == 0:
                return dead
            if pid in self.workers:
                dead.append((pid, os.waitstatus_to_exitcode(status), self.workers.pop(pid)))
                self.on_exit(pid)

    def _fill(self) -> None:
        while len(self.workers) < self.count:
            self._spawn()
        self.on_change(sorted(self.workers))

    def run(self) -> int | str:
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            self._fill()
            return self._loop()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)

    def _loop(self) -> int | str:
        respawn_at: float | None = None
        while True:
            if respawn_at is None:
                info = signal.sigwaitinfo(SIGNALS)
                sig = info.si_signo
            else:
                waited = signal.sigtimedwait(SIGNALS, max(0.0, respawn_at - time.monotonic()))
                sig = waited.si_signo if waited is not None else 0
            if sig == 0 or (respawn_at is not None and time.monotonic() >= respawn_at):
                respawn_at = None
                self._fill()
            if sig == signal.SIGCHLD:
                respawn_at = self._replace_dead(respawn_at)
            elif sig == signal.SIGHUP:
                log.info("reload_workers", workers=sorted(self.workers))
                self._signal_all(signal.SIGHUP)
            elif sig == signal.SIGUSR1:
                self._stop(signal.SIGUSR1, self.restart_grace)
                return RESTART
            elif sig in (signal.SIGTERM, signal.SIGINT):
                return self._stop(signal.SIGTERM, self.shutdown_grace)

    def _replace_dead(self, respawn_at: float | None) -> float | None:
        now = time.monotonic()
        dead = self._reap()
        for pid, code, _ in dead:
            log.warning("worker_died", worker=pid, code=code, note="starting a replacement")
        if not dead:
            return respawn_at
        # Crash-looping (dying right after the start): wait longer each time, up to MAX_PAUSE_S.
        quick = any(now - started < QUICK_DEATH_S for _, _, started in dead)
        self._pause = min(MAX_PAUSE_S, max(0.1, self._pause * 2)) if quick else 0.0
        if respawn_at is not None:
            return respawn_at
        if self._pause:
            return now + self._pause
        self._fill()
        return None

    def _signal_all(self, sig: signal.Signals) -> None:
        for pid in list(self.workers):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def _stop(self, sig: signal.Signals, grace: float) -> int:
        """Ask every worker to drain; wait for them until their grace (and a margin) is over."""
        log.info("stopping_workers", workers=sorted(self.workers), reason=sig.name)
        if sig != signal.SIGUSR1:  # a stop refuses new connections at once; a restart queues them
            for sock in self.listeners:
                sock.close()
        self._signal_all(sig)
        deadline = time.monotonic() + grace + STOP_MARGIN_S
        code = 0
        while self.workers:
            self._reap()
            if not self.workers:
                break
            left = deadline - time.monotonic()
            waited = signal.sigtimedwait(SIGNALS, left) if left > 0 else None
            if waited is None or (waited.si_signo in (signal.SIGTERM, signal.SIGINT) and sig == signal.SIGTERM):
                log.warning("killing_workers", workers=sorted(self.workers))
                self._signal_all(signal.SIGKILL)
                for pid in list(self.workers):
                    os.waitpid(pid, 0)
                    del self.workers[pid]
                    self.on_exit(pid)
                code = 0 if waited is None else 130
        return code
