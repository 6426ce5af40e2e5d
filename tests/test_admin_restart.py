"""POST /api/restart and SIGHUP on a real server process: the same PID re-execs, binds the
same port and reads the new config; a stream in flight finishes before the restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ccr_aio.cli import daemon
from tests.conftest import provider_config
from tests.stream_grammar import check_stream, parse_sse_bytes
from tests.test_admin_api import gated_upstream, read_until
from tests.test_cli import ROOT, USER, ask, cli_env, healthy, stop_pid, wait_for
from tests.test_process import free_port


@pytest.fixture
async def server(isolated_home: Path, tmp_path: Path):
    """Start `python -m ccr_aio --config X` in the foreground (as systemd would); always stopped."""
    procs: list[asyncio.subprocess.Process] = []
    home = isolated_home / ".claude-code-router"
    home.mkdir()

    async def start(config: dict[str, Any]) -> tuple[str, Path, asyncio.subprocess.Process]:
        port = free_port()
        (home / "config.json").write_text(json.dumps({"PORT": port, **config}))
        with open(tmp_path / "server.err", "ab") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ccr_aio", "--config", str(home / "config.json"), cwd=ROOT,
                env=cli_env(isolated_home), stdout=subprocess.DEVNULL, stderr=err)
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        await wait_for(lambda: healthy(url), what=f"{url}/health")
        return url, home, proc

    yield start
    for proc in procs:
        if proc.returncode is None:
            stop_pid(proc.pid)
            await proc.wait()


async def post(url: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(url + path, json=body) as response:
        return response.status, await response.json()


def starts_logged(home: Path) -> int:
    return sum(json.loads(line)["event"] == "starting" for p in (home / "logs").glob("ccr-*.log")
               for line in p.read_text().splitlines())


async def test_restart_comes_back_on_the_same_port_with_the_new_config(server, fake):
    url, home, proc = await server({"Providers": [provider_config(fake)], "Router": {"default": "fake,fake-model"}})
    before = daemon.read_pid(home)
    assert before.pid == proc.pid
    await ask(url)
    assert fake.requests[-1].body["model"] == "fake-model"
    # Changed on disk only (as an editor would), then applied by the restart.
    config = json.loads((home / "config.json").read_text())
    config["Router"]["default"] = "fake,Other-Model"
    (home / "config.json").write_text(json.dumps(config))

    status, body = await post(url, "/api/restart")
    assert (status, body) == (200, {"success": True, "message": "Service restart initiated"})
    await wait_for(lambda: starts_logged(home) == 2, what="the second start in the server log")
    await wait_for(lambda: healthy(url), what="the server back on its port")
    after = daemon.read_pid(home)
    assert after.pid == proc.pid and proc.returncode is None  # re-exec'd in place
    assert after.started > before.started and after.port == before.port
    await ask(url)
    assert fake.requests[-1].body["model"] == "Other-Model"
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    assert not daemon.pid_path(home).exists()


async def test_restart_waits_for_the_stream_in_flight(server, aiohttp_server, fake):
    gate = asyncio.Event()
    gated = await aiohttp_server(gated_upstream(gate), host="127.0.0.1")
    slow = {"name": "slow", "api_base_url": str(gated.make_url("/v1/chat/completions")), "models": ["m"]}
    url, home, proc = await server({"Providers": [slow], "Router": {"default": "slow,m"}})
    async with aiohttp.ClientSession() as session:
        stream = await session.post(url + "/v1/messages",
                                    json={"model": "x", "max_tokens": 10, "stream": True, "messages": USER})
        first = await read_until(stream, b"before")
        status, _ = await post(url, "/api/restart")
        assert status == 200
        # It stops accepting at once (connections wait in the backlog); the process waits for the stream.
        await wait_for(lambda: _not(healthy(url)), what="the listening socket to close")
        assert proc.returncode is None
        gate.set()
        events = parse_sse_bytes(first + await asyncio.wait_for(stream.read(), 15))
    check_stream(events)
    assert events[-1]["type"] == "message_stop"
    await wait_for(lambda: healthy(url), what="the server back after the stream")
    assert daemon.read_pid(home).pid == proc.pid


async def _not(value: Any) -> bool:
    return not await value


async def test_restart_with_a_broken_config_keeps_the_server_running(server, fake):
    url, home, proc = await server({"Providers": [provider_config(fake)], "Router": {"default": "fake,fake-model"}})
    (home / "config.json").write_text('{"Providers": [{"name": "x", "api_base_url": "http://x", "transformer": {"use": ["nope"]}}]}')
    status, body = await post(url, "/api/restart")
    assert status == 400 and "Not restarting" in body["error"]["message"]
    assert await healthy(url) and starts_logged(home) == 1
    await ask(url)


async def test_sighup_reloads_in_place(server, fake):
    url, home, proc = await server({"Providers": [provider_config(fake)], "Router": {"default": "fake,fake-model"}})
    config = json.loads((home / "config.json").read_text())
    config["Router"]["default"] = "fake,Other-Model"
    (home / "config.json").write_text(json.dumps(config))
    os.kill(proc.pid, signal.SIGHUP)

    async def routed_to_other() -> bool:
        await ask(url)
        return fake.requests[-1].body["model"] == "Other-Model"

    await wait_for(routed_to_other, what="the reload")
    assert starts_logged(home) == 1  # reloaded, not restarted
