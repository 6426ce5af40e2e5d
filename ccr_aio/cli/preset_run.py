"""`ccr-aio <preset> [claude args]`: run Claude Code with an installed preset (launch.py says
what it gets).

[FIX] over CCR: the name is checked; the args reach `claude` verbatim, without a shell (CCR
rebuilt them as flags and dropped the prompt), followed by `--settings <file>`; that file is
0600 in a private temp dir and removed when claude exits (CCR left `ccr-settings-<hash>.json`
with the key in the config dir); the environment is also set on the child; a server this
command started is stopped afterwards, one that was running is left alone; risky
`claudeCodeSettings` are shown on the first run, and run only once trusted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..config_store import read_raw
from ..presets import launch, trust, validate
from ..presets.store import PresetError, is_installed, preset_dir, presets_root, read_manifest
from ..settings import ConfigError
from . import daemon
from .commands import UNSET, client_env, load, server_url, start_daemon
from .preset_prompts import confirm, interactive


def is_runnable(name: str, args: argparse.Namespace) -> bool:
    """Whether `name` is an installed preset of this config's home."""
    return is_installed(presets_root(load(args).home), name)


def run_preset(name: str, args: argparse.Namespace, claude_args: list[str]) -> int:
    wanted = os.environ.get("CLAUDE_PATH") or "claude"
    claude = shutil.which(wanted)
    if claude is None:
        print(f"ccr-aio: '{wanted}' not found; install Claude Code or set CLAUDE_PATH", file=sys.stderr)
        return 127
    settings = load(args)
    directory = preset_dir(presets_root(settings.home), name)
    manifest = read_manifest(directory)
    try:
        user_config = read_raw(settings.config_path) if settings.config_path.exists() else {}
    except ConfigError:
        user_config = {}
    url, info = server_url(settings, args)
    plan = launch.plan(name, manifest, client_env(settings, url), user_config, os.environ)
    if not _trusted(name, directory, manifest):
        return 1
    started = None
    if plan.needs_server and (info is None or not daemon.healthy(url)):
        code = start_daemon(load(args, create=True), args, out=sys.stderr)
        if code:
            return code
        started = daemon.read_pid(settings.home)
        url, _ = server_url(settings, args)
        plan = launch.plan(name, manifest, client_env(settings, url), user_config, os.environ)
    try:
        return _run_claude(claude, claude_args, plan)
    finally:
        if started is not None:
            _stop(settings.home, started)


def _trusted(name: str, directory: Path, manifest: dict[str, Any]) -> bool:
    risks = validate.risks(manifest)
    if not risks:
        return True
    if trust.is_trusted(directory, manifest):
        if trust.first_run(directory):
            print(f"Preset {name} holds these settings, trusted at install:\n" + "\n".join(f"  {r}" for r in risks),
                  file=sys.stderr)
            trust.mark_shown(directory, manifest)
        return True
    print(f"Preset {name} holds settings that run commands or widen permissions, and you have not "
          "trusted them (or they changed since):\n" + "\n".join(f"  {r}" for r in risks),
          file=sys.stderr)
    if interactive() and confirm("Trust them and run?"):
        trust.record(directory, manifest, shown=True)
        return True
    print(f"Not run. Trust them with `ccr-aio preset install {name} --trust`.", file=sys.stderr)
    return False


def _run_claude(claude: str, claude_args: list[str], plan: launch.Launch) -> int:
    private = tempfile.mkdtemp(prefix="ccr-aio-preset-")  # 0700
    try:
        settings_path = os.path.join(private, "settings.json")
        fd = os.open(settings_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(plan.settings, fh)
        env = {k: v for k, v in os.environ.items() if k not in UNSET}
        env.update(plan.env)
        sys.stdout.flush()
        sys.stderr.flush()
        child = subprocess.Popen([claude, *claude_args, "--settings", settings_path], env=env)
        return _wait(child)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _wait(child: subprocess.Popen[bytes]) -> int:
    """Wait for claude; Ctrl-C reaches it from the terminal, SIGTERM/SIGHUP are passed on, and
    we stay to clean up after it."""
    def forward(signum: int, _frame: Any) -> None:
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, handler) for sig, handler in (
        (signal.SIGINT, signal.SIG_IGN), (signal.SIGTERM, forward), (signal.SIGHUP, forward))}
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


def _stop(home: Path, started: daemon.PidInfo | None) -> None:
    """Stop the server this command started (the PID file still names that process)."""
    info = daemon.read_pid(home)
    if started is None or info is None or info.pid != started.pid:
        return
    daemon.terminate(info.pid, daemon.stop_timeout(info))
    daemon.remove_pid(home, info.pid)


def explain(exc: PresetError) -> int:
    print(f"Error: {exc.message}", file=sys.stderr)
    return 1
