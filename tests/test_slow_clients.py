"""Slow and idle clients cannot starve the server: header and body deadlines, and a connection
cap that keeps /health answering under slowloris at a 1,024-descriptor limit. Real server
processes, real sockets, paced like the attacks they stand for."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import time

import aiohttp

from ccr_aio.cli.limits import FD_RESERVE, connection_cap
from ccr_aio.config import ServerLimits, parse_config
from tests.conftest import provider_config
from tests.server_process import endless_config, open_stream, server_process  # noqa: F401 - fixture
from tests.test_cli import ROOT, wait_for

SOFT_LIMIT = 1024
SLOW_CONNECTIONS = 1100


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def trickle(writer: asyncio.StreamWriter, reader: asyncio.StreamReader, pieces: bytes,
                  every: float, limit: float) -> tuple[float, bytes]:
    """Send `pieces` one line (or byte) at a time every `every` s until the server answers or
    closes; (seconds until then, what it sent). Fails after `limit` s."""
    started = time.monotonic()
    answer = asyncio.ensure_future(read_or_reset(reader))
    for piece in pieces.splitlines(keepends=True) if b"\n" in pieces else [bytes([b]) for b in pieces]:
        if answer.done():
            break
        try:
            writer.write(piece)
        except ConnectionError:
            break
        await asyncio.wait({answer}, timeout=every)
        assert time.monotonic() - started < limit, "the server still holds the slow connection"
    data = await asyncio.wait_for(answer, limit)
    writer.close()
    return time.monotonic() - started, data


async def read_or_reset(reader: asyncio.StreamReader) -> bytes:
    """Everything until the server closes; a reset (it closed with our bytes unread) is a close."""
    try:
        return await reader.read()
    except ConnectionResetError:
        return b""


def endless_headers() -> bytes:
    return b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: 1\r\n" * 10_000


def test_limits_from_the_config():
    parsed = parse_config({"HEADER_TIMEOUT_MS": 1500, "BODY_TIMEOUT_MS": "2500",
                           "KEEPALIVE_TIMEOUT_MS": -1, "MAX_CONNECTIONS": "lots"})
    assert parsed.value is not None  # bad limits do not stop a start: the defaults apply
    limits, warnings = parsed.value.limits, [str(p) for p in parsed.problems]
    assert (limits.header_timeout, limits.body_timeout) == (1.5, 2.5)
    assert limits.keepalive_timeout == 75.0 and limits.max_connections is None
    assert len(warnings) == 2 and "KEEPALIVE_TIMEOUT_MS" in warnings[0]
    assert not any(p.blocks for p in parsed.problems)  # ... but a save refuses them
    empty = parse_config({})
    assert empty.value is not None and empty.value.limits == ServerLimits() and not empty.problems
    assert connection_cap(None, 1024) == (1024 - FD_RESERVE) // 2
    assert connection_cap(100, 1024) == 100 and connection_cap(None, None) > 1000


async def test_headers_sent_slowly_are_cut_at_the_deadline(server_process, fake):
    server = await server_process({"Providers": [provider_config(fake)], "HEADER_TIMEOUT_MS": 1500})
    reader, writer = await connect(server.port)
    silent_reader, silent = await connect(server.port)  # connects and sends nothing at all
    took, data = await trickle(writer, reader, endless_headers(), every=0.3, limit=5)
    assert data == b"" and 1.3 < took < 3.0, took  # closed, without an answer, at ~1.5 s
    assert await asyncio.wait_for(read_or_reset(silent_reader), 1) == b""
    silent.close()

    # A kept-alive connection may idle past the header deadline between requests.
    reader, writer = await connect(server.port)
    for _ in range(2):
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(head.lower().partition(b"content-length: ")[2].partition(b"\r\n")[0])
        await reader.readexactly(length)
        if _ == 0:
            await asyncio.sleep(2.0)  # idle longer than HEADER_TIMEOUT_MS, on purpose
    writer.close()


async def test_a_body_sent_slowly_gets_a_408(server_process, fake):
    server = await server_process({"Providers": [provider_config(fake)], "APIKEY": "k",
                                   "BODY_TIMEOUT_MS": 1500})
    body = json.dumps({"model": "x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}).encode()
    head = (b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
    reader, writer = await connect(server.port)
    writer.write(head)
    # Four bytes 0.3 s apart, then nothing: a byte that lands just after the server closed would
    # make the kernel answer with a reset that discards the 408 before this client reads it.
    took, data = await trickle(writer, reader, body[:4], every=0.3, limit=5)
    status_line, _, rest = data.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout", data[:200]
    error = json.loads(rest.partition(b"\r\n\r\n")[2])["error"]
    assert "not received within 1.5 s" in error["message"]
    assert 1.3 < took < 3.0, took
    assert not fake.requests  # nothing went upstream


def lower_fd_limit() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT_LIMIT, hard))


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def test_health_answers_under_slowloris_at_1024_descriptors(server_process, fake):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < SLOW_CONNECTIONS + 200:  # this test's own side needs the descriptors
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * SLOW_CONNECTIONS), hard))
    try:
        server = await server_process({"Providers": [provider_config(fake)], "HEADER_TIMEOUT_MS": 4000},
                                      preexec=lower_fd_limit)
        assert f"Max open files            {SOFT_LIMIT}" in open(f"/proc/{server.proc.pid}/limits").read()
        connected: list[int] = []
        lifetimes: list[float] = []

        async def slow_client() -> None:
            reader, writer = await connect(server.port)
            connected.append(1)
            took, _ = await trickle(writer, reader, endless_headers(), every=1.0, limit=15)
            lifetimes.append(took)

        clients = [asyncio.ensure_future(slow_client()) for _ in range(SLOW_CONNECTIONS)]
        await wait_for(lambda: len(connected) == SLOW_CONNECTIONS, what="all slow connections")
        # While they are held (or were turned away to make room), /health answers at once.
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                started = time.monotonic()
                async with session.get(server.url + "/health", timeout=aiohttp.ClientTimeout(total=2)) as r:
                    assert r.status == 200
                assert time.monotonic() - started < 2
                assert open_fds(server.proc.pid) < SOFT_LIMIT
        await asyncio.wait_for(asyncio.gather(*clients), 20)
        assert len(lifetimes) == SLOW_CONNECTIONS
        assert max(lifetimes) < 4.0 + 1.5, max(lifetimes)  # none outlived the header deadline
        async with aiohttp.ClientSession() as session, session.get(server.url + "/health") as r:
            assert r.status == 200
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_past_the_cap_with_every_connection_busy_a_newcomer_gets_a_503(server_process, aiohttp_server):
    config, endless = await endless_config(aiohttp_server, MAX_CONNECTIONS=2)
    server = await server_process(config)
    async with aiohttp.ClientSession() as first, aiohttp.ClientSession() as second:
        await open_stream(first, server.url)
        await open_stream(second, server.url)  # two connections, both busy streaming
        reader, writer = await connect(server.port)
        data = await asyncio.wait_for(read_or_reset(reader), 5)
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503")
    assert json.loads(body)["error"]["message"].startswith("Too many open connections")
    assert endless.received == 2


def test_the_systemd_unit_lifts_the_descriptor_limit_and_waits_out_the_grace():
    unit = dict(line.split("=", 1) for line in (ROOT / "deploy" / "ccr-aio.service").read_text().splitlines()
                if "=" in line and not line.startswith("#"))
    assert int(unit["LimitNOFILE"]) >= 16 * SOFT_LIMIT
    assert int(unit["TimeoutStopSec"]) > ServerLimits().shutdown_grace
