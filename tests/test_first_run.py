"""First run, in a real process: with no providers the server listens on 0.0.0.0 without
auth so it can be set up; no web page may set it up, and once it has providers and no APIKEY
it stops listening on the network at once instead of at the next restart.

Whether the server listens on 0.0.0.0 or on 127.0.0.1 shows from 127.0.0.2: a wildcard
socket accepts a connection to any loopback address, a 127.0.0.1 socket only to that one.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ccr_aio.cli import daemon
from tests.raw_http import raw_request
from tests.test_process import ROOT, free_port, run_env

PROVIDER = {"name": "p", "api_base_url": "http://127.0.0.1:9/v1/chat/completions", "api_key": "sk-p", "models": ["m"]}
FIRST_RUN = {"Providers": [], "Router": {}}


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    config: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, body: object = None, apikey: str | None = None) -> tuple[int, object]:
        return daemon.call(self.url + path, method, body, apikey, timeout=10)


def reachable(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.fixture
async def first_run(tmp_path: Path) -> AsyncIterator[Server]:
    config = tmp_path / "ccr" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps(FIRST_RUN))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ccr_aio", "--config", str(config), "--port", str(port)],
                            cwd=ROOT, env=run_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(proc, port, config)
    try:
        problem = await asyncio.to_thread(daemon.wait_until_up, proc, config.parent, server.url)
        assert problem is None, problem
        assert reachable("127.0.0.2", port)  # open to the network for set-up
        yield server
    finally:
        proc.terminate()
        proc.wait(30)


async def test_no_web_page_can_set_up_a_first_run_server(first_run):
    before = first_run.config.read_text()
    body = json.dumps({"Providers": [PROVIDER], "Router": {"default": "p,m"}}).encode()
    for headers in ([("Origin", "http://evil.example"), ("Content-Type", "text/plain")],
                    [("Origin", "http://evil.example"), ("Content-Type", "application/json")],
                    [("Sec-Fetch-Site", "cross-site"), ("Content-Type", "application/json")],
                    [("Content-Type", "text/plain")]):
        response = await raw_request(first_run.port, "/api/config", headers, method="POST", body=body)
        assert response.status in (403, 415) and response.json()["type"] == "error", headers
    response = await raw_request(first_run.port, "/api/config", host=f"evil.example:{first_run.port}")
    assert response.status == 403  # a rebinding page cannot read it either
    assert first_run.config.read_text() == before


async def test_saving_providers_without_a_key_closes_the_server_to_the_network_at_once(first_run):
    status, answer = await asyncio.to_thread(first_run.call, "POST", "/api/config",
                                             {"Providers": [PROVIDER], "Router": {"default": "p,m"}})
    assert status == 200, answer
    assert any("now listens on 127.0.0.1 only" in w for w in answer["warnings"])  # type: ignore[index]
    assert not any("HOST" in w for w in answer["warnings"])  # type: ignore[index]
    assert not reachable("127.0.0.2", first_run.port)  # already closed when the answer came
    status, config = await asyncio.to_thread(first_run.call, "GET", "/api/config?reveal=1")
    assert status == 200 and config["Providers"] == [PROVIDER]  # type: ignore[index]
    assert daemon.read_pid(first_run.config.parent).host == "127.0.0.1"  # type: ignore[union-attr]
    assert first_run.proc.poll() is None


async def test_a_reload_that_brings_providers_closes_it_too(first_run):
    first_run.config.write_text(json.dumps({"Providers": [PROVIDER], "Router": {"default": "p,m"}}))
    status, answer = await asyncio.to_thread(first_run.call, "POST", "/api/reload")
    assert status == 200 and any("127.0.0.1 only" in w for w in answer["warnings"])  # type: ignore[index]
    assert not reachable("127.0.0.2", first_run.port)


async def test_with_an_apikey_set_up_may_stay_on_the_network(first_run):
    config = {"Providers": [PROVIDER], "Router": {"default": "p,m"}, "APIKEY": "k-123"}
    status, answer = await asyncio.to_thread(first_run.call, "POST", "/api/config", config)
    assert status == 200, answer
    assert reachable("127.0.0.2", first_run.port)  # HOST applies at the next restart, as documented
    assert (await asyncio.to_thread(first_run.call, "GET", "/api/config"))[0] == 401
    assert (await asyncio.to_thread(first_run.call, "GET", "/api/config", None, "k-123"))[0] == 200
