"""Real `python -m ccr_aio` server processes for lifecycle tests, and upstreams that never end.

`server_process` is a fixture (import it into a test module) that starts the foreground server
as systemd would, with a config dict, optional extra environment and a `preexec` hook (e.g. to
lower RLIMIT_NOFILE); every process it started is stopped after the test, whatever happens.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.fakes.openai_upstream import _encode, chunk
from tests.test_cli import ROOT, cli_env, healthy, stop_pid, wait_for
from tests.test_process import free_port


@dataclass
class Server:
    url: str
    port: int
    home: Path
    proc: asyncio.subprocess.Process
    stderr: Path

    def log_events(self, name: str) -> list[dict]:
        found = []
        for path in sorted((self.home / "logs").glob("ccr-*.log")):
            for line in path.read_text().splitlines():
                if (entry := json.loads(line))["event"] == name:
                    found.append(entry)
        return found


@pytest.fixture
async def server_process(isolated_home: Path, tmp_path: Path):
    procs: list[asyncio.subprocess.Process] = []
    home = isolated_home / ".claude-code-router"

    async def start(config: dict[str, Any], preexec: Callable[[], None] | None = None,
                    **env: str) -> Server:
        home.mkdir(exist_ok=True)
        port = free_port()
        (home / "config.json").write_text(json.dumps({"PORT": port, **config}))
        stderr = tmp_path / "server.err"
        with open(stderr, "ab") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ccr_aio", "--config", str(home / "config.json"), cwd=ROOT,
                env=cli_env(isolated_home, **env), stdout=subprocess.DEVNULL, stderr=err,
                preexec_fn=preexec)
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        await wait_for(lambda: healthy(url), what=f"{url}/health")
        return Server(url, port, home, proc, stderr)

    yield start
    for proc in procs:
        if proc.returncode is None:
            stop_pid(proc.pid)
            await proc.wait()


class Endless:
    """A provider whose streams never end (a text chunk every 50 ms, forever) and whose
    non-streaming answers never come; `received` counts the requests that reached it."""

    def __init__(self) -> None:
        self.received = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.received += 1
        if not body.get("stream"):
            await asyncio.Event().wait()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(_encode(chunk({"role": "assistant", "content": ""})))
        while True:
            await response.write(_encode(chunk({"content": "more "})))
            await asyncio.sleep(0.05)


async def endless_config(aiohttp_server: Any, **extra: Any) -> tuple[dict[str, Any], Endless]:
    endless = Endless()
    upstream = await aiohttp_server(endless.app(), host="127.0.0.1")
    provider = {"name": "endless", "api_base_url": str(upstream.make_url("/v1/chat/completions")),
                "models": ["m"]}
    return {"Providers": [provider], "Router": {"default": "endless,m"}, **extra}, endless


async def open_stream(session: aiohttp.ClientSession, url: str,
                      model: str = "x") -> tuple[aiohttp.ClientResponse, bytes]:
    """Start a /v1/messages stream and read until its text is flowing."""
    response = await session.post(url + "/v1/messages", json={
        "model": model, "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status == 200
    data = b""
    while b"more" not in data:
        piece = await asyncio.wait_for(response.content.readany(), 10)
        assert piece, "the stream ended before its text"
        data += piece
    return response, data
