"""The subcommands: start, stop, restart, status, activate, code, ui (model: model.py)."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import time
import webbrowser
from pathlib import Path
from typing import IO, Any

from ..private_files import private_dir
from ..settings import (
    DEFAULT_CONFIG,
    Settings,
    build_settings,
    default_config_path,
    load_settings,
)
from . import daemon
from .claude_env import fit_env, model_argument

PLACEHOLDER_TOKEN = "ccr-aio"  # sent when no APIKEY is set; the server then accepts anything
# Variables that would make Claude Code bypass the gateway or send a conflicting key.
UNSET = ("ANTHROPIC_API_KEY", "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX")


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {"HOST": args.host, "PORT": args.port, "LOG_LEVEL": args.log_level}


def load(args: argparse.Namespace, create: bool = False) -> Settings:
    """Settings as the server would see them; read-only commands do not create files."""
    path = Path(args.config or default_config_path()).expanduser().absolute()
    if not create and not path.exists():
        return build_settings(dict(DEFAULT_CONFIG), path, os.environ, overrides(args))
    if create:
        private_dir(path.parent, tighten=False)  # a first run creates the config dir 0700
    return load_settings(path, overrides=overrides(args), create=create)


def server_url(settings: Settings, args: argparse.Namespace) -> tuple[str, daemon.PidInfo | None]:
    """Where this home's server listens: its PID file's port unless --port says otherwise."""
    info = daemon.running(settings.home)
    if info is not None and info.port and args.port is None:
        return daemon.base_url(info.host or settings.host, info.port), info
    return daemon.base_url(settings.host, settings.port), info


def start(args: argparse.Namespace) -> int:
    settings = load(args, create=True)
    if args.daemon:
        return start_daemon(settings, args)
    from .server import serve  # imports the whole app; keep the other commands fast

    return serve(settings, overrides(args), console=not args.no_console, argv=args.argv)


def start_daemon(settings: Settings, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
    url, info = server_url(settings, args)
    if info is not None:
        if daemon.healthy(url):
            print(f"ccr-aio is already running (PID {info.pid}) on {url}", file=out)
            return 0
        print(f"ccr-aio: process {info.pid} from {daemon.pid_path(settings.home)} is alive but "
              f"{url}/health does not answer; try `ccr-aio stop`", file=sys.stderr)
        return 1
    cmd = daemon.python_command("start", "--no-console", "--config", str(settings.config_path))
    for flag, value in (("--host", args.host), ("--port", args.port), ("--log-level", args.log_level)):
        if value is not None:
            cmd += [flag, str(value)]
    output = settings.logs_dir / "daemon.log"
    proc = daemon.spawn_detached(cmd, output)
    url = daemon.base_url(settings.host, settings.port)
    problem = daemon.wait_until_up(proc, settings.home, url)
    if problem is None:
        print(f"ccr-aio started (PID {proc.pid}) on {url}", file=out)
        return 0
    if proc.poll() is None:
        daemon.terminate(proc.pid, timeout=5.0)
    print(f"ccr-aio: failed to start: {problem}. Output ({output}):\n{daemon.tail(output)}", file=sys.stderr)
    return 1


def stop(args: argparse.Namespace) -> int:
    """0 when the server is not running (any more) by its own doing; 1 otherwise, and 1 too
    when it had to be killed: a stop that cut streams without their error event is no success."""
    return _stop(args)[0]


def _stop(args: argparse.Namespace) -> tuple[int, bool]:
    """(exit code, whether no server is left running)."""
    settings = load(args)
    home = settings.home
    info = daemon.read_pid(home)
    if info is None:
        url, _ = server_url(settings, args)
        if daemon.healthy(url):
            print(f"ccr-aio: a server answers on {url} but {daemon.pid_path(home)} does not exist "
                  "(started by systemd or another user?); not stopping it", file=sys.stderr)
            return 1, False
        print("ccr-aio is not running")
        return 0, True
    if not (daemon.is_alive(info.pid) and daemon.runs_ccr_aio(info.pid)):
        daemon.remove_pid(home, info.pid)
        print(f"ccr-aio is not running (removed stale PID file for PID {info.pid})")
        return 0, True
    timeout = daemon.stop_timeout(info)
    try:
        outcome = daemon.terminate(info.pid, timeout)
    except PermissionError:
        print(f"ccr-aio: not allowed to stop PID {info.pid} (another user's process)", file=sys.stderr)
        return 1, False
    if outcome == daemon.ALIVE:
        print(f"ccr-aio: PID {info.pid} did not exit, not even after SIGKILL", file=sys.stderr)
        return 1, False
    daemon.remove_pid(home, info.pid)
    if outcome == daemon.KILLED:
        print(f"ccr-aio: PID {info.pid} did not stop within {timeout:g} s of SIGTERM; killed it "
              "with SIGKILL (requests in flight were dropped)", file=sys.stderr)
        return 1, True
    print(f"ccr-aio stopped (PID {info.pid})")
    return 0, True


def restart(args: argparse.Namespace) -> int:
    code, gone = _stop(args)
    if not gone:
        return code
    # After a kill the old server is gone all the same: start the new one, and still say
    # (through the exit code) that the stop was not clean.
    return start_daemon(load(args, create=True), args) or code


def _uptime(seconds: float) -> str:
    seconds = int(max(0, seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{days}d " if days else "") + f"{hours}h {minutes:02d}m {secs:02d}s"


def status(args: argparse.Namespace) -> int:
    settings = load(args)
    url, info = server_url(settings, args)
    up = daemon.healthy(url)
    if info is None and not up:
        stale = daemon.read_pid(settings.home)
        print("ccr-aio is not running" + (f" (stale PID file for PID {stale.pid})" if stale else ""))
        print(f"  Config:  {settings.config_path}")
        return 1
    if info is not None and not up:
        print(f"ccr-aio process {info.pid} is alive but {url}/health does not answer")
        return 1
    try:
        version = daemon.call(url + "/")[1].get("version", "?")
    except (OSError, AttributeError):
        version = "?"
    print("ccr-aio is running")
    print(f"  PID:     {info.pid if info else '? (no PID file: started by systemd or another user?)'}")
    print(f"  Port:    {url.rsplit(':', 1)[1]}")
    if info is not None and info.started:
        print(f"  Uptime:  {_uptime(time.time() - info.started)}")
    print(f"  Version: {version}")
    print(f"  Config:  {info.config if info and info.config else settings.config_path}")
    print(f"  URL:     {url}")
    return 0


def client_env(settings: Settings, url: str, model: str | None = None) -> dict[str, str]:
    """What Claude Code needs to talk to this server (`model`: its `--model`, if given)."""
    host = url.split("//", 1)[1].rsplit(":", 1)[0]
    return {
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_AUTH_TOKEN": settings.apikey or PLACEHOLDER_TOKEN,
        "NO_PROXY": "127.0.0.1" if host == "127.0.0.1" else f"127.0.0.1,{host}",
        "DISABLE_TELEMETRY": "true",
        "DISABLE_COST_WARNINGS": "true",
        "API_TIMEOUT_MS": str(settings.api_timeout_ms),
        **fit_env(settings.config, model),
    }


def activate(args: argparse.Namespace) -> int:
    settings = load(args)
    url, _ = server_url(settings, args)
    for name, value in client_env(settings, url).items():
        print(f"export {name}={shlex.quote(value)}")
    print("unset " + " ".join(UNSET))
    return 0


def code(args: argparse.Namespace) -> int:
    wanted = os.environ.get("CLAUDE_PATH") or "claude"
    claude = shutil.which(wanted)
    if claude is None:
        print(f"ccr-aio: '{wanted}' not found; install Claude Code (npm install -g "
              "@anthropic-ai/claude-code) or set CLAUDE_PATH", file=sys.stderr)
        return 127
    settings = load(args, create=True)
    url, info = server_url(settings, args)
    if info is None or not daemon.healthy(url):
        status_code = start_daemon(settings, args, out=sys.stderr)
        if status_code:
            return status_code
        url, _ = server_url(settings, args)
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(client_env(settings, url, model_argument(args.claude_args)))
    sys.stdout.flush()
    sys.stderr.flush()
    # exec: claude gets the terminal and signals directly, and its exit code is ours.
    os.execve(claude, [claude, *args.claude_args], env)
    return 0  # pragma: no cover


def ui(args: argparse.Namespace) -> int:
    settings = load(args)
    url, _ = server_url(settings, args)
    print(f"{url}/ui/")
    if not daemon.healthy(url):
        print("ccr-aio is not running; start it with `ccr-aio start --daemon`", file=sys.stderr)
        return 1
    has_display = sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if has_display and not args.no_browser:
        webbrowser.open(f"{url}/ui/")
    return 0
