"""Soak: thousands of streams through a real ccr-aio process while hostile clients hold and drop
connections at the same time. Run with `make soak` (not part of `make test`).

Starts the fake OpenAI provider and ccr-aio as separate processes on 127.0.0.1, then together:
  - good clients: --streams streaming requests at --concurrency; each must be a 200 that ends in
    `message_stop` with no `error` event;
  - slowloris: --slowloris connections that send one header line every --drip seconds and never
    finish (reopened when the server closes one);
  - disconnecting clients: --disconnects clients that start a stream and drop the connection as
    soon as its first bytes arrive, over and over.
The server's RSS, open fds and /health latency are sampled every second and printed as a series.
When every client is gone, the fds must come back to where they were before the traffic.
Exit code 1 when a good client failed, the time limit passed, or the fds did not come back.

    python bench/soak.py [--streams 5000] [--concurrency 32] [--slowloris 200] [--disconnects 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.bench import free_port, start, wait_healthy  # noqa: E402

BODY = json.dumps({"model": "claude-sonnet-4", "max_tokens": 100, "stream": True,
                   "messages": [{"role": "user", "content": "hi"}]}).encode()
HEADERS = {"Content-Type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": "x"}


@dataclass
class Tally:
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    dropped: int = 0  # streams the disconnecting clients cut
    lorises_closed: int = 0  # slow connections the server closed
    health_ms: list[float] = field(default_factory=list)


def proc_status(pid: int) -> tuple[float, int]:
    """(RSS in MB, open fds) of a process."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


async def good_clients(url: str, streams: int, concurrency: int, tally: Tally) -> None:
    queue = iter(range(streams))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def worker() -> None:
            for _ in queue:
                try:
                    async with session.post(url, data=BODY, headers=HEADERS) as response:
                        data = await response.read()
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    tally.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if response.status != 200 or b"event: error" in data or not data.endswith(
                    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
                ):
                    tally.failures.append(f"{response.status}: {data[-200:]!r}")
                else:
                    tally.ok += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def slowloris(port: int, drip: float, stop: asyncio.Event, tally: Tally) -> None:
    """One connection that never finishes its headers; reopened when the server closes it."""
    while not stop.is_set():
        writer = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            while not stop.is_set():
                await writer.drain()
                try:
                    await asyncio.wait_for(reader.read(1024), drip)  # data or EOF: the server gave up on us
                    tally.lorises_closed += 1
                    break
                except asyncio.TimeoutError:
                    writer.write(b"X-Slow: 1\r\n")
        except OSError:
            await asyncio.sleep(drip)
        finally:
            if writer is not None:
                writer.transport.abort()


async def disconnecter(port: int, stop: asyncio.Event, tally: Tally) -> None:
    """Start a stream, drop the connection at its first bytes, again and again."""
    request = (b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(BODY)) + BODY
    while not stop.is_set():
        writer = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await asyncio.wait_for(reader.readuntil(b"event:"), 30)
            tally.dropped += 1
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            await asyncio.sleep(0.1)
        finally:
            if writer is not None:
                writer.transport.abort()


async def sampler(pid: int, health: str, stop: asyncio.Event, tally: Tally, series: list[tuple]) -> None:
    began = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        while not stop.is_set():
            asked = time.monotonic()
            try:
                async with session.get(health) as response:
                    await response.read()
                tally.health_ms.append((time.monotonic() - asked) * 1000)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                tally.failures.append(f"/health: {type(exc).__name__}")
            rss, fds = proc_status(pid)
            series.append((round(time.monotonic() - began), round(rss, 1), fds, tally.ok))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


async def soak(args: argparse.Namespace) -> int:
    fake_port, port = free_port(), free_port()
    home = tempfile.mkdtemp(prefix="ccr-soak-")
    config = Path(home) / ".claude-code-router" / "config.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({
        "LOG": False,
        "Providers": [{"name": "fake", "api_base_url": f"http://127.0.0.1:{fake_port}/v1/chat/completions",
                       "api_key": "sk-soak", "models": ["fake-model"]}],
        "Router": {"default": "fake,fake-model"},
    }))
    env = {**os.environ, "HOME": home, "PYTHONPATH": str(ROOT)}
    procs = [start(["-m", "tests.fakes.serve", "--port", str(fake_port), "--chunks", str(args.chunks)], env),
             start(["-m", "ccr_aio", "--config", str(config), "--port", str(port)], env)]
    server = procs[1]
    tally, series = Tally(), []
    try:
        await wait_healthy(f"http://127.0.0.1:{fake_port}/health")
        await wait_healthy(f"http://127.0.0.1:{port}/health")
        await asyncio.sleep(1.0)  # the tokenizer loads in the background at start
        base_rss, base_fds = proc_status(server.pid)
        print(f"server pid {server.pid}: before the traffic {base_rss:.1f} MB RSS, {base_fds} fds", flush=True)
        stop, sampling = asyncio.Event(), asyncio.Event()
        began = time.monotonic()
        hostile = [asyncio.create_task(slowloris(port, args.drip, stop, tally)) for _ in range(args.slowloris)]
        hostile += [asyncio.create_task(disconnecter(port, stop, tally)) for _ in range(args.disconnects)]
        probe = asyncio.create_task(sampler(server.pid, f"http://127.0.0.1:{port}/health", sampling, tally, series))
        await asyncio.sleep(args.drip)  # every slow connection is open before the good traffic
        url = f"http://127.0.0.1:{port}/v1/messages?beta=true"
        try:
            await asyncio.wait_for(good_clients(url, args.streams, args.concurrency, tally), args.max_seconds)
        except asyncio.TimeoutError:
            tally.failures.append(f"time limit: {args.max_seconds} s")
        elapsed = time.monotonic() - began
        stop.set()
        await asyncio.gather(*hostile)
        sampling.set()
        await probe
        settled = await fds_settle(server.pid, base_fds, args.settle_seconds)
        report(tally, series, elapsed, base_rss, base_fds, settled, args)
        return 0 if not tally.failures and settled[1] <= base_fds else 1
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except Exception:  # noqa: BLE001 - whatever happened, leave no process behind
                proc.kill()


async def fds_settle(pid: int, baseline: int, seconds: float) -> tuple[float, int]:
    """(seconds waited, fds) once the server's fds are back to `baseline`, or at the deadline
    (idle upstream keep-alive connections close after aiohttp's 15 s)."""
    began = time.monotonic()
    while True:
        fds = proc_status(pid)[1]
        waited = time.monotonic() - began
        if fds <= baseline or waited > seconds:
            return waited, fds
        await asyncio.sleep(0.5)


def report(tally: Tally, series: list[tuple], elapsed: float, base_rss: float, base_fds: int,
           settled: tuple[float, int], args: argparse.Namespace) -> None:
    print("\n  t(s)  RSS(MB)  fds  streams_ok")
    for t, rss, fds, ok in series:
        print(f"{t:6d} {rss:8.1f} {fds:4d} {ok:11d}")
    quarter = max(len(series) // 4, 1)
    early = statistics.median(r for _, r, _, _ in series[:quarter])
    late = statistics.median(r for _, r, _, _ in series[-quarter:])
    health = sorted(tally.health_ms) or [0.0]
    print(f"\ngood streams: {tally.ok}/{args.streams} ok, {len(tally.failures)} failures in {elapsed:.1f} s "
          f"({tally.ok / elapsed:.0f} streams/s, concurrency {args.concurrency})")
    for failure in tally.failures[:10]:
        print(f"  failure: {failure}")
    print(f"hostile: {args.slowloris} slowloris connections ({tally.lorises_closed} closed by the server), "
          f"{args.disconnects} disconnecting clients ({tally.dropped} streams dropped)")
    print(f"RSS: {base_rss:.1f} MB before, median {early:.1f} MB in the first quarter, {late:.1f} MB in the "
          f"last quarter, peak {max(r for _, r, _, _ in series):.1f} MB")
    print(f"/health during the soak: p50 {health[len(health) // 2]:.1f} ms, max {health[-1]:.1f} ms")
    print(f"fds: {base_fds} before, peak {max(f for _, _, f, _ in series)}, {settled[1]} after "
          f"{settled[0]:.1f} s with every client gone ({'back to baseline' if settled[1] <= base_fds else 'NOT back'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--slowloris", type=int, default=200)
    parser.add_argument("--disconnects", type=int, default=50)
    parser.add_argument("--chunks", type=int, default=50, help="text chunks per streamed answer")
    parser.add_argument("--drip", type=float, default=5.0, help="seconds between a slow client's header lines")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="time limit for the good clients")
    parser.add_argument("--settle-seconds", type=float, default=45.0, help="how long the fds may take to come back")
    sys.exit(asyncio.run(soak(parser.parse_args())))


if __name__ == "__main__":
    main()
