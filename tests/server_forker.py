"""Start `ccr_aio` server processes fast: a warm Python that forks one per request.

The end-to-end tests can run against a real `--workers 2` server, one per test: hundreds of
starts. A cold `python -m ccr_aio` spends most of its start importing (aiohttp, the app, the
transformers); this process imports all of that once, and each server is a fork of it that runs
`ccr_aio.cli.main(argv)` with the test's environment, working directory and output file. From
there on it is the server a user runs: the same command line, its own parent that binds the
port and forks the workers, its own signals and exit. A restart (`/api/restart`) execs a cold
`python -m ccr_aio` as always.

`Forker` is the test side: it starts this module as a process (`python -m tests.server_forker`)
and asks it for servers over a pipe, one JSON line each way. The forker ends when that pipe
closes (the test run ended, or died), and its servers get SIGTERM when the forker ends.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
PR_SET_PDEATHSIG = 1
ANSWER_S = 60.0  # the first answer waits for the imports; the box may be busy


def _warm() -> None:
    """What a server imports and loads on its way to its first answers, done once here."""
    import ccr_aio.app  # noqa: F401 - the whole app
    import ccr_aio.cli.commands  # noqa: F401
    import ccr_aio.cli.server  # noqa: F401
    from ccr_aio.routing.tokens import load_encoding

    load_encoding()  # cached: a worker that counts tokens does not read the 1.7 MB file again


def _reap(signum: int, frame: Any) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _serve(request: dict[str, Any]) -> int:
    """In the forked child: become the server the request describes; its exit code."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)  # no server outlives the run
    out = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(null)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    from ccr_aio.cli import main

    return main(request["argv"])


def run() -> None:
    # The replies keep stdout's pipe; anything else printed (a library's log line while
    # warming up) goes to stderr instead of into a reply.
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    _warm()
    signal.signal(signal.SIGCHLD, _reap)
    for line in sys.stdin:
        request = json.loads(line)
        replies.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(replies.fileno())  # the server must not hold the reply pipe open
                code = _serve(request)
            except BaseException:  # noqa: BLE001 - the child must never return into this loop
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()


class Forker:
    """The test side: one forker process for the whole run, started on first use."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def _started(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.server_forker"], cwd=ROOT, text=True,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return self._proc

    def spawn(self, argv: list[str], env: dict[str, str], output: Path) -> int:
        """Start `ccr_aio <argv>` with exactly `env`, its stdout and stderr going to `output`;
        its PID. The answer comes once the fork is done (milliseconds; the first call also
        waits for the imports)."""
        with self._lock:
            proc = self._started()
            pipe_in: IO[str] = proc.stdin  # type: ignore[assignment]
            pipe_out: IO[str] = proc.stdout  # type: ignore[assignment]
            pipe_in.write(json.dumps({"argv": argv, "env": env, "cwd": str(ROOT), "output": str(output)}) + "\n")
            pipe_in.flush()
            if not select.select([pipe_out], [], [], ANSWER_S)[0]:
                raise RuntimeError(f"the server forker did not answer within {ANSWER_S} s")
            answer = pipe_out.readline()
        if not answer:
            raise RuntimeError(f"the server forker ended (code {proc.poll()})")
        return int(json.loads(answer)["pid"])

    def close(self) -> None:
        if self._proc is None:
            return
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None


if __name__ == "__main__":
    run()
