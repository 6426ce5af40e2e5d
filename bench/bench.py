"""Measure what ccr-aio adds, against a direct call to the same fake provider in the same run.

Starts the fake OpenAI provider and ccr-aio as separate processes on 127.0.0.1, then:
  1. streaming 200-chunk replies, c=1 and c=16: req/s direct vs through ccr-aio
  2. non-stream small replies, c=1: p50 latency direct vs through (added latency)
  3. a ~380 KB Claude-Code-like conversation (120 tool turns), c=1: time to first byte
  4. fallback: a primary that answers 429 to every other call (retry-after: 0, so it is never
     skipped) and a healthy fallback; N streamed requests at c=16 must all complete
Usage: python bench/bench.py [--seconds 5] [--samples 40] [--fallback-requests 1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.conversation import long_conversation, plus_one_turn  # noqa: E402
from ccr_aio.transformers.endpoint.request import anthropic_to_unified  # noqa: E402

SMALL = {"model": "claude-sonnet-4", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_healthy(url: str, deadline_s: float = 20.0) -> None:
    end = time.monotonic() + deadline_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < end:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def read_all(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> float:
    began = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status} {await response.text()}")
        async for _ in response.content.iter_any():
            pass
    return time.perf_counter() - began


async def first_byte(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> float:
    began = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        await response.content.readany()
        elapsed = time.perf_counter() - began
        async for _ in response.content.iter_any():
            pass
    return elapsed


async def throughput(call: Callable[[], Awaitable[float]], concurrency: int, seconds: float) -> float:
    done = 0
    end = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < end:
            await call()
            done += 1

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.monotonic() - began)


async def latencies(call: Callable[[], Awaitable[float]], count: int) -> list[float]:
    for _ in range(3):
        await call()  # warm the connection pools
    return [await call() for _ in range(count)]


def ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 2)


async def fallback_run(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str],
                       total: int, concurrency: int) -> dict[str, Any]:
    """`total` streamed requests, `concurrency` at a time: how many completed (status 200 and
    the stream ends with message_stop), who answered, and after how many attempts."""
    todo = iter(range(total))
    statuses: Counter[int] = Counter()
    routes: Counter[str] = Counter()
    attempts: Counter[str] = Counter()
    completed = 0

    async def worker() -> None:
        nonlocal completed
        for _ in todo:  # one iterator shared by the workers
            async with session.post(url, data=body, headers=headers) as response:
                data = await response.read()
                statuses[response.status] += 1
                routes[response.headers.get("x-ccr-route", "?")] += 1
                attempts[response.headers.get("x-ccr-attempts", "?")] += 1
                completed += response.status == 200 and data.rstrip().endswith(b'{"type":"message_stop"}')

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - began
    return {"requests": total, "completed": completed, "statuses": dict(statuses), "answered_by": dict(routes),
            "attempts": dict(sorted(attempts.items())), "rps": round(total / elapsed, 1)}


async def run(seconds: float, samples: int, fallback_requests: int) -> dict[str, Any]:
    fake_port, flaky_port, ccr_port = free_port(), free_port(), free_port()
    home = tempfile.mkdtemp(prefix="ccr-bench-")
    config = Path(home) / ".claude-code-router" / "config.json"
    config.parent.mkdir(parents=True)
    fake_url = f"http://127.0.0.1:{fake_port}/v1/chat/completions"
    flaky_url = f"http://127.0.0.1:{flaky_port}/v1/chat/completions"
    config.write_text(json.dumps({
        "Providers": [
            {"name": "fake", "api_base_url": fake_url, "api_key": "sk-bench", "models": ["fake-model"]},
            # the same upstream behind per-chunk stream transformers, to price their work
            {"name": "ds", "api_base_url": fake_url, "api_key": "sk-bench", "models": ["fake-model"],
             "transformer": {"use": ["deepseek"]}},
            {"name": "or", "api_base_url": fake_url, "api_key": "sk-bench", "models": ["fake-model"],
             "transformer": {"use": ["openrouter"]}},
            # answers 429 to every other call; requests naming it fall back to `fake`
            {"name": "flaky", "api_base_url": flaky_url, "api_key": "sk-bench", "models": ["fake-model"]},
        ],
        "fallback": {"flaky,fake-model": ["fake,fake-model"]},
        # longContext set, so every request is token-counted like a real CCR config
        "Router": {"default": "fake,fake-model", "longContext": "fake,fake-model", "longContextThreshold": 60000},
    }))
    env = {**os.environ, "HOME": home, "PYTHONPATH": str(ROOT)}
    procs = [
        start(["-m", "tests.fakes.serve", "--port", str(fake_port), "--chunks", "200"], env),
        start(["-m", "tests.fakes.serve", "--port", str(flaky_port), "--chunks", "200",
               "--fail-every", "2", "--fail-status", "429", "--retry-after", "0"], env),
        start(["-m", "ccr_aio", "--config", str(config), "--port", str(ccr_port)], env),
    ]
    ccr_url = f"http://127.0.0.1:{ccr_port}/v1/messages?beta=true"
    results: dict[str, Any] = {}
    try:
        await wait_healthy(f"http://127.0.0.1:{fake_port}/health")
        await wait_healthy(f"http://127.0.0.1:{flaky_port}/health")
        await wait_healthy(f"http://127.0.0.1:{ccr_port}/health")
        json_headers = {"Content-Type": "application/json"}
        ccr_headers = {**json_headers, "anthropic-version": "2023-06-01", "x-api-key": "x"}

        def bodies(anthropic_body: dict[str, Any], stream: bool) -> tuple[bytes, bytes]:
            body = {**anthropic_body, "stream": stream}
            direct = {**anthropic_to_unified(body), "model": "fake-model"}
            return json.dumps(direct).encode(), json.dumps(body).encode()

        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
            direct_stream, ccr_stream = bodies(SMALL, True)
            for concurrency in (1, 16):
                direct = await throughput(lambda: read_all(session, fake_url, direct_stream, json_headers), concurrency, seconds)
                through = await throughput(lambda: read_all(session, ccr_url, ccr_stream, ccr_headers), concurrency, seconds)
                results[f"stream_200_c{concurrency}"] = {
                    "direct_rps": round(direct, 1), "ccr_rps": round(through, 1), "ratio": round(through / direct, 3)}

            for provider in ("ds", "or"):
                routed = json.dumps({**SMALL, "stream": True, "model": f"{provider},fake-model"}).encode()
                through = await throughput(lambda: read_all(session, ccr_url, routed, ccr_headers), 16, seconds)
                plain = results["stream_200_c16"]["ccr_rps"]
                results[f"stream_200_c16_{provider}"] = {"ccr_rps": round(through, 1), "vs_openai_path": round(through / plain, 3)}

            direct_json, ccr_json = bodies(SMALL, False)
            direct = await latencies(lambda: read_all(session, fake_url, direct_json, json_headers), samples)
            through = await latencies(lambda: read_all(session, ccr_url, ccr_json, ccr_headers), samples)
            results["nonstream_small_c1"] = {
                "direct_p50_ms": ms(direct), "ccr_p50_ms": ms(through), "added_ms": round(ms(through) - ms(direct), 2)}

            conversation = long_conversation()
            direct_long, ccr_long = bodies(conversation, True)
            direct = await latencies(lambda: first_byte(session, fake_url, direct_long, json_headers), samples)
            cold = iter([json.dumps({**long_conversation(salt=f"_{i}"), "stream": True}).encode() for i in range(samples + 3)])
            through = await latencies(lambda: first_byte(session, ccr_url, next(cold), ccr_headers), samples)
            results["long_conversation_ttfb_cold_c1"] = {
                "body_kb": len(ccr_long) // 1024, "direct_p50_ms": ms(direct), "ccr_p50_ms": ms(through),
                "added_ms": round(ms(through) - ms(direct), 2)}

            # A live session: each request is the previous conversation plus one exchange.
            growing = [conversation]
            for n in range(samples + 3):
                growing.append(plus_one_turn(growing[-1], n))
            warm = iter([json.dumps({**body, "stream": True}).encode() for body in growing[1:]])
            await first_byte(session, ccr_url, ccr_long, ccr_headers)
            through = await latencies(lambda: first_byte(session, ccr_url, next(warm), ccr_headers), samples)
            results["long_conversation_ttfb_warm_c1"] = {"ccr_p50_ms": ms(through)}

            direct = await throughput(lambda: read_all(session, fake_url, direct_long, json_headers), 8, seconds)
            through = await throughput(lambda: read_all(session, ccr_url, ccr_long, ccr_headers), 8, seconds)
            results["long_conversation_c8"] = {
                "direct_rps": round(direct, 1), "ccr_rps": round(through, 1), "ratio": round(through / direct, 3)}

            if fallback_requests:
                flaky = json.dumps({**SMALL, "stream": True, "model": "flaky,fake-model"}).encode()
                results["fallback_429_half_c16"] = await fallback_run(
                    session, ccr_url, flaky, ccr_headers, fallback_requests, 16)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput run")
    parser.add_argument("--samples", type=int, default=40, help="latency samples per case")
    parser.add_argument("--fallback-requests", type=int, default=1000,
                        help="streamed requests of the fallback case (0: skip it)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = asyncio.run(run(args.seconds, args.samples, args.fallback_requests))
    for name, figures in results.items():
        print(f"{name:34s} " + "  ".join(f"{k}={v}" for k, v in figures.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
