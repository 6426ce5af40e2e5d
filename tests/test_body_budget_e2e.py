"""Big request bodies cannot take the server's memory (issue 9): a real `python -m ccr_aio`
process, its peak RSS read from /proc/<pid>/status (VmHWM), and a fake provider in the test
that holds each answer until told, so what is in flight at once is known exactly.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.fakes.openai_upstream import text_chunks
from tests.test_process import ROOT, free_port, run_env

MB = 1024 * 1024


def memory_mb(pid: int, field: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for {pid}")


def image_body(mb: int, stream: bool = True) -> bytes:
    """A Claude-Code-like request carrying one big base64 image (what makes bodies big)."""
    data = base64.b64encode(os.urandom(mb * MB * 3 // 4)).decode()
    content = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
               {"type": "text", "text": "what is this?"}]
    return json.dumps({"model": "m", "max_tokens": 10, "stream": stream,
                       "messages": [{"role": "user", "content": content}]}).encode()


def text_body(mb: int) -> bytes:
    turns = []
    while sum(len(t["content"]) for t in turns) < mb * MB:
        turns.append({"role": "user" if len(turns) % 2 == 0 else "assistant", "content": "word " * 4000})
    if turns[-1]["role"] == "assistant":
        turns.append({"role": "user", "content": "go on"})
    return json.dumps({"model": "m", "max_tokens": 10, "stream": True, "messages": turns}).encode()


class HeldProvider:
    """Answers each call with a short stream, but only once `release` is set."""

    def __init__(self) -> None:
        self.arrived = 0
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.arrived += 1
        await self.release.wait()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for chunk in text_chunks(["ok"]):
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        await response.write_eof()
        return response


@pytest.fixture
async def provider(aiohttp_server: Any) -> HeldProvider:
    held = HeldProvider()
    app = web.Application(client_max_size=128 * MB)
    app.router.add_post("/v1/chat/completions", held.handle)
    held.server = await aiohttp_server(app, host="127.0.0.1")  # type: ignore[attr-defined]
    return held


class Server:
    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture
async def start_server(tmp_path: Path, provider: HeldProvider) -> AsyncIterator[Any]:
    procs: list[subprocess.Popen] = []

    async def start(**limits: Any) -> Server:
        port = free_port()
        url = str(provider.server.make_url("/v1/chat/completions"))  # type: ignore[attr-defined]
        config = {"PORT": port, "LOG": False, "Router": {"default": "held,m", "longContextThreshold": 10**9},
                  "Providers": [{"name": "held", "api_base_url": url, "api_key": "k", "models": ["m"]}], **limits}
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        proc = subprocess.Popen([sys.executable, "-m", "ccr_aio", "--config", str(path)], cwd=ROOT,
                                env=run_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        server = Server(proc, port)
        deadline = time.monotonic() + 20
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(server.url + "/health") as response:
                        if response.status == 200:
                            return server
                except aiohttp.ClientError:
                    assert time.monotonic() < deadline and proc.poll() is None, "the server did not start"
                    await asyncio.sleep(0.05)

    yield start
    for proc in procs:  # waited for without blocking the loop: the fake provider lives in it
        proc.terminate()
        try:
            await wait_until(lambda: proc.poll() is not None)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


async def post(session: aiohttp.ClientSession, server: Server, body: Any, **kw: Any) -> tuple[int, Any, Any]:
    headers = {"content-type": "application/json", **kw.pop("headers", {})}
    async with session.post(server.url + "/v1/messages", data=body, headers=headers, **kw) as response:
        data = await response.read()
        payload = json.loads(data) if response.content_type == "application/json" else data
        return response.status, payload, response.headers


async def wait_until(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_concurrent_big_bodies_stay_within_the_budget(start_server: Any, provider: HeldProvider) -> None:
    # 128 MB budget, a 24 MB image body costs ~96 MB: one in flight at a time; the rest wait
    # 300 ms, then 529. Before the budget, six such bodies took ~860 MB.
    server = await start_server(BODY_BUDGET_MB=128, BODY_BUDGET_WAIT_MS=300)
    body = image_body(24)
    async with aiohttp.ClientSession() as session:
        # The tokenizer (~40 MB) loads in the background at start: count it in the baseline.
        count = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        async with session.post(server.url + "/v1/messages/count_tokens", json=count) as response:
            assert response.status == 200
        before = memory_mb(server.proc.pid)
        calls = [asyncio.create_task(post(session, server, body)) for _ in range(6)]
        await wait_until(lambda: provider.arrived == 1 and sum(c.done() for c in calls) == 5)
        # /health answers while a big body is in flight.
        async with session.get(server.url + "/health") as health:
            assert health.status == 200
        provider.release.set()
        results = await asyncio.gather(*calls)
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200] + [529] * 5
    for status, payload, headers in results:
        if status == 529:
            assert payload == {"type": "error", "error": {
                "type": "overloaded_error",
                "message": "The server is busy with other large request bodies; retry shortly"}}
            assert headers["Retry-After"] == "2"
    grown = memory_mb(server.proc.pid) - before
    assert grown < 128 * 1.25, f"peak RSS grew {grown:.0f} MB for a 128 MB budget"
    assert provider.arrived == 1


async def test_a_waiting_body_gets_in_when_the_budget_frees(start_server: Any, provider: HeldProvider) -> None:
    server = await start_server(BODY_BUDGET_MB=40, BODY_BUDGET_WAIT_MS=20_000)
    body = image_body(6)  # ~24 MB each: one at a time
    async with aiohttp.ClientSession() as session:
        first = asyncio.create_task(post(session, server, body))
        await wait_until(lambda: provider.arrived == 1)
        second = asyncio.create_task(post(session, server, body))
        await asyncio.sleep(0.3)
        assert provider.arrived == 1 and not second.done()  # it waits for the first
        provider.release.set()
        assert [(await first)[0], (await second)[0]] == [200, 200]
    assert provider.arrived == 2


async def test_bodies_that_can_never_fit_get_413(start_server: Any, provider: HeldProvider) -> None:
    server = await start_server(BODY_BUDGET_MB=16)
    provider.release.set()
    async with aiohttp.ClientSession() as session:
        status, payload, _ = await post(session, server, image_body(6))  # ~24 MB of memory
        assert status == 413 and payload["error"]["type"] == "request_too_large"
        assert "more than the budget for request bodies (BODY_BUDGET_MB: 16)" in payload["error"]["message"]

        async def pieces() -> AsyncIterator[bytes]:  # chunked: counted as it arrives
            data = image_body(6)
            for at in range(0, len(data), MB):
                yield data[at : at + MB]

        status, payload, _ = await post(session, server, pieces())
        assert status == 413 and payload["error"]["type"] == "request_too_large"
        status, _, _ = await post(session, server, image_body(1))  # a normal body still goes through
        assert status == 200
    # Over the size limit: refused from the header, before a byte of the body is read.
    reader, writer = await asyncio.open_connection("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
    writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 70000000\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 413")
    writer.close()


async def test_health_answers_while_a_big_body_is_parsed_and_converted(start_server: Any, provider: HeldProvider) -> None:
    server = await start_server()
    provider.release.set()
    body = text_body(30)
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:
        big = asyncio.create_task(post(session, server, body))
        while not big.done():
            began = time.monotonic()
            async with session.get(server.url + "/health") as response:
                assert response.status == 200
            latencies.append(time.monotonic() - began)
            await asyncio.sleep(0.01)
        assert (await big)[0] == 200
    assert len(latencies) >= 3 and max(latencies) < 3.0, latencies
