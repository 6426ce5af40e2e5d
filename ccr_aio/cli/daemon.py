"""PID file, process checks, starting a detached server, and small calls to the local server.

The server process itself writes `<home>/ccr-aio.pid` once it listens (foreground or daemon)
and removes it when it stops; a restart re-execs in place, so the PID stays valid. The file is
JSON (`pid`, `port`, `host`, `config`, `started`, `version`, `grace`: how long its shutdown may
take), mode 0600; a bare number (older or hand-made files) is read too. A PID file is only
believed when that process is alive, is not a zombie, and (where /proc exists) runs ccr_aio — so
a stale file after a crash or reboot is harmless.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..private_files import open_private, private_dir

PID_FILE = "ccr-aio.pid"
START_TIMEOUT_S = 20.0
DEFAULT_GRACE_S = 30.0  # a PID file without `grace` comes from a server with the default
STOP_MARGIN_S = 5.0  # past its grace, a server that has not exited is stuck: SIGKILL
KILL_WAIT_S = 5.0
_POLL_S = 0.05


@dataclass(frozen=True)
class PidInfo:
    pid: int
    port: int | None = None
    host: str | None = None
    config: str | None = None
    started: float | None = None
    version: str | None = None
    grace: float | None = None
    workers: list[int] | None = None  # `--workers N`: the worker PIDs (`pid` is their parent)


def pid_path(home: Path) -> Path:
    return Path(home) / PID_FILE


def read_pid(home: Path) -> PidInfo | None:
    try:
        data = json.loads(pid_path(home).read_text(encoding="utf-8").strip() or "null")
    except (OSError, ValueError):
        return None
    if isinstance(data, int) and not isinstance(data, bool):
        return PidInfo(pid=data)
    if isinstance(data, dict) and isinstance(data.get("pid"), int):
        known = PidInfo.__dataclass_fields__
        return PidInfo(**{k: v for k, v in data.items() if k in known})
    return None


def write_pid(home: Path, info: PidInfo) -> None:
    path = pid_path(home)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(info)) + "\n")
    os.replace(tmp, path)


def remove_pid(home: Path, pid: int) -> None:
    """Remove the PID file if it still names `pid` (a newer server may have replaced it)."""
    info = read_pid(home)
    if info is not None and info.pid == pid:
        with contextlib.suppress(FileNotFoundError):
            pid_path(home).unlink()


def is_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:  # an exited process nobody reaped yet still answers kill(0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def runs_ccr_aio(pid: int) -> bool:
    if not Path("/proc/self").exists():
        return True  # no /proc (macOS): cannot tell, trust the PID file
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"ccr_aio" in cmdline or b"ccr-aio" in cmdline


def running(home: Path) -> PidInfo | None:
    """The PID file's server if that process is really alive, else None."""
    info = read_pid(home)
    if info is not None and is_alive(info.pid) and runs_ccr_aio(info.pid):
        return info
    return None


# ---------------------------------------------------------------- local HTTP


def connect_host(host: str | None) -> str:
    if not host or host in ("0.0.0.0", "::", "localhost", "127.0.0.1"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def base_url(host: str | None, port: int) -> str:
    return f"http://{connect_host(host)}:{port}"


@functools.cache
def _opener() -> Any:
    # Imported on first use: the status line reads the PID file on every turn and must not
    # pay for urllib. Local calls must never go through the user's http_proxy.
    import urllib.request

    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(url: str, method: str = "GET", body: Any = None, apikey: str | None = None,
         timeout: float = 2.0) -> tuple[int, Any]:
    """(status, parsed JSON or None); raises OSError when nothing answers."""
    import http.client
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if apikey:
        headers["x-api-key"] = apikey
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _opener().open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except http.client.HTTPException as exc:
        raise OSError(str(exc)) from None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        status, body = call(url + "/health", timeout=timeout)
    except OSError:
        return False
    return status == 200 and isinstance(body, dict) and body.get("status") == "ok"


# ---------------------------------------------------------------- processes


def child_env() -> dict[str, str]:
    """The environment for a spawned or re-exec'd server: ours, plus the package's source
    checkout on PYTHONPATH so `-m ccr_aio` imports from any working directory."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    if "site-packages" not in root and "dist-packages" not in root:
        parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
        env["PYTHONPATH"] = os.pathsep.join([root, *parts])
    return env


def spawn_detached(cmd: list[str], output: Path) -> subprocess.Popen[bytes]:
    """Start `cmd` in its own session (no terminal, survives the shell) with stdout/stderr
    appended to `output` — only start-up failures and tracebacks land there."""
    private_dir(output.parent)
    with os.fdopen(open_private(output, os.O_WRONLY | os.O_APPEND), "ab") as out:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, close_fds=True, env=child_env())


def wait_until_up(proc: subprocess.Popen[bytes], home: Path, url: str, timeout: float = START_TIMEOUT_S) -> str | None:
    """None once `proc` wrote its PID file and /health answers; else why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            return f"the server exited with code {code}"
        info = read_pid(home)
        if info is not None and info.pid == proc.pid and healthy(url, timeout=0.5):
            return None
        time.sleep(_POLL_S)
    return f"no answer on {url}/health within {timeout:.0f} s"


def stop_timeout(info: PidInfo) -> float:
    """How long `stop` waits after SIGTERM: the server's own grace, plus time to exit."""
    grace = info.grace if isinstance(info.grace, (int, float)) and info.grace > 0 else DEFAULT_GRACE_S
    return float(grace) + STOP_MARGIN_S


STOPPED, KILLED, ALIVE = "stopped", "killed", "alive"


def terminate(pid: int, timeout: float) -> str:
    """SIGTERM and wait for the graceful shutdown; SIGKILL after `timeout`.
    STOPPED (exited by itself), KILLED (had to be killed) or ALIVE (survived even that)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_gone(pid, timeout):
        return STOPPED
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return KILLED if wait_gone(pid, KILL_WAIT_S) else ALIVE


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True


def tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 8192))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def python_command(*args: str) -> list[str]:
    """`python [same interpreter flags] -m ccr_aio args...` for spawning or re-exec."""
    flags: list[str] = getattr(subprocess, "_args_from_interpreter_flags", lambda: [])()
    return [sys.executable, *flags, "-m", "ccr_aio", *args]
