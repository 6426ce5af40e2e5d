"""Logs, the PID file and the config dir are private to the server's user, like the config."""

from __future__ import annotations

import stat
from pathlib import Path

from ccr_aio.cli import daemon
from tests.test_cli import ccr_home, cli, cli_env, reaper, stop_pid, write_config  # noqa: F401 - fixtures
from tests.test_process import free_port


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_first_run_creates_everything_private(isolated_home: Path):
    home = isolated_home / ".claude-code-router"  # not there yet: this start creates it
    started = await cli(cli_env(isolated_home), "start", "--daemon", "--port", str(free_port()))
    try:
        assert started.code == 0, started.err
        check_first_run(home)
    finally:
        info = daemon.read_pid(home)
        if info is not None:
            stop_pid(info.pid)


def check_first_run(home: Path) -> None:
    logs = list((home / "logs").glob("ccr-*.log"))
    assert logs and all(mode(p) == 0o600 for p in logs)
    assert {mode(home), mode(home / "logs")} == {0o700}
    for path in (home / "config.json", home / "claude-code-router.log", daemon.pid_path(home),
                 home / "logs" / "daemon.log"):
        assert mode(path) == 0o600, path


async def test_files_left_open_by_an_older_version_are_tightened(ccr_home: Path, fake, reaper):  # noqa: F811
    write_config(ccr_home, fake, free_port())
    ccr_home.chmod(0o755)
    (ccr_home / "logs").mkdir(mode=0o755)
    (ccr_home / "logs").chmod(0o755)
    old_log = ccr_home / "logs" / "ccr-20200101000000.log"
    for path in (old_log, ccr_home / "claude-code-router.log", ccr_home / "logs" / "daemon.log"):
        path.write_text("")
        path.chmod(0o644)
    started = await cli(cli_env(ccr_home.parent), "start", "--daemon")
    assert started.code == 0, started.err
    reaper(daemon.read_pid(ccr_home).pid)
    assert mode(ccr_home / "logs") == 0o700
    for path in (ccr_home / "claude-code-router.log", ccr_home / "logs" / "daemon.log", daemon.pid_path(ccr_home)):
        assert mode(path) == 0o600, path
    current = [p for p in (ccr_home / "logs").glob("ccr-*.log") if p != old_log]
    assert current and all(mode(p) == 0o600 for p in current)
    # The config dir may be shared on purpose (a config in ~ or /srv): created 0700, never chmod-ed.
    assert mode(ccr_home) == 0o755
