"""The command line as a user runs it: real `python -m ccr_aio ...` processes in a temp HOME.

Tests are async so the in-process fake provider keeps serving while CLI processes run; every
server a test starts is stopped by the `reaper` fixture, whatever happens.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ccr_aio import __version__, config_store
from ccr_aio.cli import daemon
from tests.conftest import provider_config
from tests.test_process import free_port, run_env

ROOT = Path(__file__).resolve().parents[1]
USER = [{"role": "user", "content": "hi"}]


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    drop = ("DISPLAY", "WAYLAND_DISPLAY", "CLAUDE_PATH", "SERVICE_PORT", "LOG_LEVEL")
    env = {k: v for k, v in run_env(home).items() if k not in drop and not k.startswith("ANTHROPIC_")}
    return {**env, **extra}


async def cli(env: dict[str, str], *args: str, timeout: float = 60) -> Result:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ccr_aio", *args, cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return Result(proc.returncode, out.decode(), err.decode())


async def wait_for(condition: Any, timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll an (async) callable until it returns something truthy, or fail at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def healthy(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as session, session.get(url + "/health", timeout=aiohttp.ClientTimeout(total=1)) as r:
            return r.status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        return False


async def ask(url: str, apikey: str = "any") -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/v1/messages", headers={"x-api-key": apikey},
                                json={"model": "claude-sonnet-4", "max_tokens": 10, "messages": USER}) as r:
            assert r.status == 200, await r.text()
            return await r.json()


def stop_pid(pid: int) -> None:
    if daemon.is_alive(pid):
        os.kill(pid, signal.SIGTERM)
        if not daemon.wait_gone(pid, 15):
            os.kill(pid, signal.SIGKILL)
            daemon.wait_gone(pid, 5)


@pytest.fixture
def ccr_home(isolated_home: Path) -> Path:
    home = isolated_home / ".claude-code-router"
    home.mkdir()
    return home


@pytest.fixture
def reaper(ccr_home: Path):
    """Collects PIDs to stop; at the end also stops whatever the home's PID file names."""
    pids: list[int] = []
    yield pids.append
    info = daemon.read_pid(ccr_home)
    for pid in pids + ([info.pid] if info else []):
        if pid != os.getpid():
            stop_pid(pid)


def write_config(home: Path, fake: Any, port: int, **extra: Any) -> dict:
    config = {"PORT": port, "Providers": [provider_config(fake)], "Router": {"default": "fake,fake-model"}, **extra}
    (home / "config.json").write_text(json.dumps(config))
    return config


async def test_daemon_start_status_stop_round_trip(ccr_home, fake, reaper):
    port = free_port()
    write_config(ccr_home, fake, port)
    env = cli_env(ccr_home.parent)
    started = await cli(env, "start", "--daemon")
    assert started.code == 0, started.err
    info = daemon.read_pid(ccr_home)
    assert info is not None and info.port == port
    reaper(info.pid)
    assert f"started (PID {info.pid})" in started.out
    url = f"http://127.0.0.1:{port}"
    assert await healthy(url)

    status = await cli(env, "status")
    assert status.code == 0, status.out + status.err
    for text in (f"PID:     {info.pid}", f"Port:    {port}", "Uptime:", f"Version: {__version__}",
                 f"Config:  {ccr_home / 'config.json'}"):
        assert text in status.out

    again = await cli(env, "start", "--daemon")
    assert again.code == 0 and "already running" in again.out
    foreground = await cli(env, "start")
    assert foreground.code == 1 and "already running" in foreground.err

    stopped = await cli(env, "stop")
    assert stopped.code == 0 and f"stopped (PID {info.pid})" in stopped.out
    assert not daemon.is_alive(info.pid)
    assert not daemon.pid_path(ccr_home).exists()
    assert not await healthy(url)
    status = await cli(env, "status")
    assert status.code == 1 and "not running" in status.out
    assert (await cli(env, "stop")).code == 0  # stopping a stopped server is fine


async def test_stale_pid_files_are_handled(ccr_home, fake, reaper):
    port = free_port()
    write_config(ccr_home, fake, port)
    env = cli_env(ccr_home.parent)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: that PID is free now
    daemon.pid_path(ccr_home).write_text(json.dumps({"pid": dead.pid, "port": port}))
    status = await cli(env, "status")
    assert status.code == 1 and f"stale PID file for PID {dead.pid}" in status.out
    stopped = await cli(env, "stop")
    assert stopped.code == 0 and "removed stale PID file" in stopped.out
    assert not daemon.pid_path(ccr_home).exists()

    other = subprocess.Popen(["sleep", "60"])  # alive, but not ccr-aio (PID reused)
    try:
        daemon.pid_path(ccr_home).write_text(str(other.pid))
        assert (await cli(env, "status")).code == 1
        started = await cli(env, "start", "--daemon")
        assert started.code == 0, started.err
        assert daemon.read_pid(ccr_home).pid != other.pid
        assert other.poll() is None  # `stop` never signalled the unrelated process
    finally:
        other.kill()
        other.wait()


async def test_daemon_that_cannot_start_reports_why(ccr_home, reaper):
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    (ccr_home / "config.json").write_text(json.dumps({"PORT": port, "Providers": []}))
    try:
        result = await cli(cli_env(ccr_home.parent, HOST="127.0.0.1"), "start", "--daemon")
    finally:
        blocker.close()
    assert result.code == 1
    assert "failed to start" in result.err and "cannot listen" in result.err
    assert not daemon.pid_path(ccr_home).exists()


async def test_activate_output_evaluates_in_bash(ccr_home, fake):
    port = free_port()
    tricky = "it's a \"key\" with $HOME; `rm -rf x` & more"
    write_config(ccr_home, fake, port, APIKEY="$CCR_TEST_KEY", API_TIMEOUT_MS=123000)
    env = cli_env(ccr_home.parent, CCR_TEST_KEY=tricky, ANTHROPIC_API_KEY="sk-real-anthropic")
    script = ('eval "$(python -m ccr_aio activate)"; '
              'printf "%s\\n" "$ANTHROPIC_BASE_URL" "$ANTHROPIC_AUTH_TOKEN" "$NO_PROXY" '
              '"$DISABLE_TELEMETRY" "$DISABLE_COST_WARNINGS" "$API_TIMEOUT_MS" "${ANTHROPIC_API_KEY-unset}"')
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"http://127.0.0.1:{port}", tricky, "127.0.0.1", "true", "true", "123000", "unset"]


async def test_activate_without_apikey_uses_a_placeholder(ccr_home):
    result = await cli(cli_env(ccr_home.parent), "activate")
    assert result.code == 0
    assert "export ANTHROPIC_BASE_URL=http://127.0.0.1:3456" in result.out
    assert "export ANTHROPIC_AUTH_TOKEN=ccr-aio" in result.out
    assert not (ccr_home / "config.json").exists()  # a read-only command creates nothing


def fake_claude(folder: Path) -> Path:
    script = folder / "claude"
    script.write_text('#!/bin/sh\necho "BASE=$ANTHROPIC_BASE_URL"\necho "TOKEN=$ANTHROPIC_AUTH_TOKEN"\n'
                      'echo "ARGS=$*"\necho "KEY=${ANTHROPIC_API_KEY-unset}"\nexit 7\n')
    script.chmod(0o755)
    return script


async def test_code_starts_the_server_and_passes_claude_exit_code(ccr_home, fake, reaper, tmp_path):
    port = free_port()
    write_config(ccr_home, fake, port)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_claude(bin_dir)
    env = cli_env(ccr_home.parent, ANTHROPIC_API_KEY="sk-real-anthropic")
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    result = await cli(env, "code", "-p", "hello world", "--model", "x")
    assert result.code == 7, result.err
    assert f"BASE=http://127.0.0.1:{port}" in result.out
    assert "TOKEN=ccr-aio" in result.out and "KEY=unset" in result.out
    assert "ARGS=-p hello world --model x" in result.out
    assert await healthy(f"http://127.0.0.1:{port}")  # `code` started the daemon
    assert (await cli(env, "status")).code == 0

    env["PATH"] = os.defpath
    missing = await cli({**env, "CLAUDE_PATH": "no-such-claude"}, "code")
    assert missing.code == 127 and "no-such-claude" in missing.err


async def test_model_list_and_set_reach_the_running_daemon(ccr_home, fake, reaper):
    port = free_port()
    write_config(ccr_home, fake, port, APIKEY="cli-key")  # the reload call must send the key
    env = cli_env(ccr_home.parent)
    assert (await cli(env, "start", "--daemon")).code == 0
    url = f"http://127.0.0.1:{port}"
    await ask(url, "cli-key")
    assert fake.requests[-1].body["model"] == "fake-model"

    listed = await cli(env, "model", "list")
    assert listed.code == 0
    assert "default               fake,fake-model" in listed.out
    assert "  fake,Other-Model" in listed.out

    result = await cli(env, "model", "set", "default", "FAKE,other-model")
    assert result.code == 0, result.err
    assert "Router.default = fake,Other-Model" in result.out and "reloaded" in result.out
    stored = json.loads((ccr_home / "config.json").read_text())
    assert stored["Router"]["default"] == "fake,Other-Model" and stored["APIKEY"] == "cli-key"
    assert len(config_store.backups(ccr_home / "config.json")) == 1
    await ask(url, "cli-key")
    assert fake.requests[-1].body["model"] == "Other-Model"

    before = (ccr_home / "config.json").read_text()
    for args, message in ((("default", "nope,model"), "not a configured provider,model"),
                          (("default", "fake,missing"), "has no model 'missing'"),
                          (("bogus", "fake,fake-model"), "unknown scenario")):
        bad = await cli(env, "model", "set", *args)
        assert bad.code == 2 and message in bad.err
    assert (ccr_home / "config.json").read_text() == before
    threshold = await cli(env, "model", "set", "longcontextthreshold", "90000")
    assert threshold.code == 0
    assert json.loads((ccr_home / "config.json").read_text())["Router"]["longContextThreshold"] == 90000


async def test_model_set_without_a_running_server(ccr_home, fake):
    write_config(ccr_home, fake, free_port())
    result = await cli(cli_env(ccr_home.parent), "model", "set", "think", "fake,fake-model")
    assert result.code == 0 and "applies when it starts" in result.out


async def test_model_set_subagent_and_think_when(ccr_home, fake):
    write_config(ccr_home, fake, free_port())
    env = cli_env(ccr_home.parent)
    assert (await cli(env, "model", "set", "subagent", "fake,Other-Model")).code == 0
    assert (await cli(env, "model", "set", "thinkwhen", "Thinking")).code == 0
    bad = await cli(env, "model", "set", "thinkWhen", "sometimes")
    assert bad.code == 2 and "thinkWhen must be one of: asked, thinking" in bad.err
    router = json.loads((ccr_home / "config.json").read_text())["Router"]
    assert router["subagent"] == "fake,Other-Model" and router["thinkWhen"] == "thinking"
    listed = await cli(env, "model", "list")
    assert "subagent              fake,Other-Model" in listed.out and "thinkWhen             thinking" in listed.out


async def test_ui_prints_the_address(ccr_home, fake, reaper):
    port = free_port()
    write_config(ccr_home, fake, port)
    env = cli_env(ccr_home.parent)
    result = await cli(env, "ui")
    assert result.out.strip() == f"http://127.0.0.1:{port}/ui/"
    assert result.code == 1 and "not running" in result.err
    assert (await cli(env, "start", "--daemon")).code == 0
    result = await cli(env, "ui")  # no DISPLAY: prints, opens nothing
    assert result.code == 0 and result.out.strip() == f"http://127.0.0.1:{port}/ui/"


async def test_restart_command_replaces_the_process(ccr_home, fake, reaper):
    port = free_port()
    write_config(ccr_home, fake, port)
    env = cli_env(ccr_home.parent)
    assert (await cli(env, "start", "--daemon")).code == 0
    first = daemon.read_pid(ccr_home).pid
    result = await cli(env, "restart")
    assert result.code == 0, result.err
    second = daemon.read_pid(ccr_home).pid
    assert second != first and not daemon.is_alive(first)
    assert await healthy(f"http://127.0.0.1:{port}")


async def test_help_version_and_unknown_command(ccr_home):
    env = cli_env(ccr_home.parent)
    assert __version__ in (await cli(env, "--version")).out
    helped = await cli(env, "--help")
    assert helped.code == 0 and all(c in helped.out for c in ("status", "activate", "model", "--daemon"))
    unknown = await cli(env, "bogus")
    assert unknown.code == 2 and "unknown command" in unknown.err
