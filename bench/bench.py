"""Measure what ccr-aio adds, against a direct call to the same fake provider in the same run.

Starts the fake OpenAI provider and ccr-aio as separate processes on 127.0.0.1 (so the server's
memory is its own), then runs every workload `--repeats` times, each time direct and through
ccr-aio back to back, and prints the medians next to the targets:
  1. streaming 200-chunk replies, c=1 and c=16: req/s through ccr-aio as a fraction of direct
     (and the same through the `deepseek` / `openrouter` stream chains, against the plain path)
  2. non-stream small replies, c=1: p50 latency added
  3. a 386 KB Claude Code session (120 tool turns), c=1: time to first byte added, warm (the
     session's next turn: one more exchange, as Claude Code sends it) and cold (never seen)
  4. the same session at c=8: req/s as a fraction of direct
  5. the server's peak RSS (VmHWM) and its RSS once idle after the run
The machine's load average is printed with the results: on a shared box, compare runs with care.
  6. fallback (once, after the repeats): a primary that answers 429 to every other call and a
     healthy fallback; N streamed requests at c=16 must all complete (bench/fallback_case.py)
  7. every core (once, after the repeats, unless --workers 1): the same server started with
     `--workers N`, streams at c=16 and the session at c=8, again as a fraction of direct
Usage: python bench/bench.py [--seconds 4] [--samples 30] [--repeats 3] [--json out.json]
       [--fallback-requests 1000] [--workers 2]
       [--server-root OTHER_CHECKOUT]  (same workloads against another version of the server)
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
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.conversation import long_conversation, plus_one_turn  # noqa: E402
from bench.fallback_case import FALLBACK, FLAKY_FAKE_ARGS, fallback_run, flaky_provider  # noqa: E402
from ccr_aio.memory import TRIM_INTERVAL_S  # noqa: E402
from ccr_aio.transformers.endpoint.request import anthropic_to_unified  # noqa: E402

SMALL = {"model": "claude-sonnet-4", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
JSON_HEADERS = {"Content-Type": "application/json"}
CCR_HEADERS = {**JSON_HEADERS, "anthropic-version": "2023-06-01", "x-api-key": "x"}
Call = Callable[[], Awaitable[float]]

# (key, what, how it is shown, target, met when) — the table of the performance issue.
TARGETS: list[tuple[str, str, str, str, Callable[[float], bool]]] = [
    ("stream_c1", "stream 200 chunks, c=1", "of direct", ">= 0.9", lambda v: v >= 0.9),
    ("stream_c16", "stream 200 chunks, c=16", "of direct", ">= 0.9", lambda v: v >= 0.9),
    ("nonstream_added_ms", "small non-stream, c=1, added latency", "ms", "<= +0.4 ms", lambda v: v <= 0.4),
    ("session_ttfb_warm_added_ms", "386 KB session, first byte added (next turn)", "ms", "<= +4 ms", lambda v: v <= 4),
    ("session_c8", "same session, c=8, throughput", "of direct", ">= 0.7", lambda v: v >= 0.7),
    # The point 5: the steady RSS of one worker after load; and its peak, for the record.
    ("idle_rss_mb_after", "server RSS once idle after the run (steady)", "MB", "<= 80 MB", lambda v: v <= 80),
    ("peak_rss_mb", "server peak RSS (VmHWM) during the run", "MB", "<= 80 MB", lambda v: v <= 80),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def start(args: list[str], env: dict[str, str], root: Path = ROOT) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], cwd=root, env={**env, "PYTHONPATH": str(root)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def memory_mb(pid: int) -> dict[str, float]:
    """The process's current and peak resident size, from /proc (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return fields


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# CPU milliseconds per request of the last `throughput` run, by process name (see Bench.pids).
cpu_per_request: dict[str, float] = {}


async def throughput(call: Call, concurrency: int, seconds: float, pids: dict[str, int] | None = None) -> float:
    await asyncio.gather(*(call() for _ in range(concurrency)))  # open the connections first
    done = 0
    end = time.monotonic() + seconds
    cpu_before = {name: cpu_seconds(pid) for name, pid in (pids or {}).items()}

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < end:
            await call()
            done += 1

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - began
    cpu_per_request.clear()
    for name, pid in (pids or {}).items():
        cpu_per_request[name] = (cpu_seconds(pid) - cpu_before[name]) * 1000 / max(done, 1)
    return done / elapsed


async def p50_ms(call: Call, count: int) -> float:
    for _ in range(3):
        await call()  # warm the connection pools
    return statistics.median([await call() for _ in range(count)]) * 1000


class Bench:
    def __init__(self, session: aiohttp.ClientSession, fake_url: str, ccr_url: str, seconds: float, samples: int) -> None:
        self.session, self.fake_url, self.ccr_url = session, fake_url, ccr_url
        self.seconds, self.samples = seconds, samples
        self.conversation = long_conversation()
        self.salt = 0
        self.turn = 0
        self.session_now = self.conversation
        self.pids: dict[str, int] = {}  # "server", "fake": whose CPU time per request is reported

    def direct(self, anthropic_body: dict[str, Any], stream: bool) -> bytes:
        """The body the client would send to the provider itself (what ccr-aio sends upstream)."""
        return json.dumps({**anthropic_to_unified({**anthropic_body, "stream": stream}), "model": "fake-model"}).encode()

    def through(self, anthropic_body: dict[str, Any], stream: bool, **extra: Any) -> bytes:
        return json.dumps({**anthropic_body, "stream": stream, **extra}).encode()

    def to_fake(self, body: bytes, reader: Callable[..., Awaitable[float]] = read_all) -> Call:
        return lambda: reader(self.session, self.fake_url, body, JSON_HEADERS)

    def to_ccr(self, body: bytes, reader: Callable[..., Awaitable[float]] = read_all) -> Call:
        return lambda: reader(self.session, self.ccr_url, body, CCR_HEADERS)

    async def run_once(self) -> dict[str, float]:
        out: dict[str, float] = {}
        direct_stream, ccr_stream = self.direct(SMALL, True), self.through(SMALL, True)
        for concurrency in (1, 16):
            direct = await throughput(self.to_fake(direct_stream), concurrency, self.seconds, self.pids)
            self.note_cpu(out, f"stream_c{concurrency}_direct")
            through = await throughput(self.to_ccr(ccr_stream), concurrency, self.seconds, self.pids)
            self.note_cpu(out, f"stream_c{concurrency}_ccr")
            out[f"stream_c{concurrency}"] = through / direct
            out[f"stream_c{concurrency}_direct_rps"], out[f"stream_c{concurrency}_ccr_rps"] = direct, through
        for provider in ("deepseek", "openrouter"):
            routed = self.through(SMALL, True, model=f"{provider},fake-model")
            through = await throughput(self.to_ccr(routed), 16, self.seconds)
            out[f"stream_c16_{provider}_vs_plain"] = through / out["stream_c16_ccr_rps"]

        direct = await p50_ms(self.to_fake(self.direct(SMALL, False)), self.samples)
        through = await p50_ms(self.to_ccr(self.through(SMALL, False)), self.samples)
        out["nonstream_direct_ms"], out["nonstream_ccr_ms"], out["nonstream_added_ms"] = direct, through, through - direct

        direct = await p50_ms(self.to_fake(self.direct(self.conversation, True), first_byte), self.samples)
        out["session_ttfb_direct_ms"] = direct
        warm = await p50_ms(lambda: first_byte(self.session, self.ccr_url, self.next_turn(), CCR_HEADERS), self.samples)
        out["session_ttfb_warm_ms"], out["session_ttfb_warm_added_ms"] = warm, warm - direct
        cold = await p50_ms(lambda: first_byte(self.session, self.ccr_url, self.unseen(), CCR_HEADERS), self.samples)
        out["session_ttfb_cold_ms"], out["session_ttfb_cold_added_ms"] = cold, cold - direct

        direct_long, ccr_long = self.direct(self.conversation, True), self.through(self.conversation, True)
        direct = await throughput(self.to_fake(direct_long), 8, self.seconds, self.pids)
        self.note_cpu(out, "session_c8_direct")
        through = await throughput(self.to_ccr(ccr_long), 8, self.seconds, self.pids)
        self.note_cpu(out, "session_c8_ccr")
        out["session_c8"], out["session_c8_direct_rps"], out["session_c8_ccr_rps"] = through / direct, direct, through
        return out

    @staticmethod
    def note_cpu(out: dict[str, float], run: str) -> None:
        """Where the CPU went in the last throughput run: ms per request, per process."""
        for name, ms in cpu_per_request.items():
            out[f"{run}_{name}_cpu_ms"] = ms

    def next_turn(self) -> bytes:
        """A live session: each request is the previous conversation plus one exchange."""
        self.session_now = plus_one_turn(self.session_now, self.turn)
        self.turn += 1
        return self.through(self.session_now, True)

    def unseen(self) -> bytes:
        self.salt += 1
        return self.through(long_conversation(salt=f"_{self.salt}"), True)


def write_config(home: Path, fake_url: str, flaky_url: str) -> Path:
    config = home / ".claude-code-router" / "config.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({
        "Providers": [
            {"name": "fake", "api_base_url": fake_url, "api_key": "sk-bench", "models": ["fake-model"]},
            # the same upstream behind per-chunk stream transformers, to price their work
            {"name": "deepseek", "api_base_url": fake_url, "api_key": "sk-bench", "models": ["fake-model"],
             "transformer": {"use": ["deepseek"]}},
            {"name": "openrouter", "api_base_url": fake_url, "api_key": "sk-bench", "models": ["fake-model"],
             "transformer": {"use": ["openrouter"]}},
            flaky_provider(flaky_url),
        ],
        "fallback": FALLBACK,
        # longContext set, so every large request is token-counted like a real CCR config
        "Router": {"default": "fake,fake-model", "longContext": "fake,fake-model", "longContextThreshold": 60000},
    }))
    return config


@contextlib.contextmanager
def workers_server(env: dict[str, str], config: Path, server_root: Path, workers: int) -> Iterator[str]:
    """The same server with `--workers N`: a parent that forks N workers on one port. It gets a
    home of its own (one server per home), with the same config."""
    home = Path(tempfile.mkdtemp(prefix="ccr-bench-workers-"))
    own = home / ".claude-code-router" / "config.json"
    own.parent.mkdir(parents=True)
    own.write_text(config.read_text())
    port = free_port()
    proc = start(["-m", "ccr_aio", "--config", str(own), "--port", str(port), "--workers", str(workers)],
                 {**env, "HOME": str(home)}, server_root)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def every_core(bench: Bench, ccr_url: str, direct: dict[str, float]) -> dict[str, float]:
    """Streams at c=16 and the session at c=8 through a multi-worker server, against the
    direct figures of the same run."""
    through = Bench(bench.session, bench.fake_url, ccr_url + "/v1/messages?beta=true", bench.seconds, bench.samples)
    for _ in range(8):  # every worker warms its tokenizer and connections before measuring
        await read_all(bench.session, through.ccr_url, through.through(bench.conversation, True), CCR_HEADERS)
    stream = await throughput(through.to_ccr(through.through(SMALL, True)), 16, bench.seconds)
    session = await throughput(through.to_ccr(through.through(bench.conversation, True)), 8, bench.seconds)
    return {"stream_c16": stream / direct["stream_c16_direct_rps"], "session_c8": session / direct["session_c8_direct_rps"],
            "stream_c16_rps": stream, "session_c8_rps": session}


@contextlib.contextmanager
def processes(env: dict[str, str], fake_port: int, flaky_port: int, ccr_port: int, config: Path,
              server_root: Path) -> Iterator[tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]]:
    procs = [
        start(["-m", "tests.fakes.serve", "--port", str(fake_port), "--chunks", "200"], env),
        start(["-m", "tests.fakes.serve", "--port", str(flaky_port), "--chunks", "200", *FLAKY_FAKE_ARGS], env),
        start(["-m", "ccr_aio", "--config", str(config), "--port", str(ccr_port)], env, server_root),
    ]
    try:
        yield procs[0], procs[-1]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


async def run(seconds: float, samples: int, repeats: int, server_root: Path = ROOT,
              fallback_requests: int = 0, workers: int = 1) -> dict[str, Any]:
    fake_port, flaky_port, ccr_port = free_port(), free_port(), free_port()
    home = Path(tempfile.mkdtemp(prefix="ccr-bench-"))
    fake_url = f"http://127.0.0.1:{fake_port}/v1/chat/completions"
    config = write_config(home, fake_url, f"http://127.0.0.1:{flaky_port}/v1/chat/completions")
    env = {**os.environ, "HOME": str(home)}
    load_before = os.getloadavg()
    fallback: dict[str, Any] = {}
    scaled: dict[str, float] = {}
    with processes(env, fake_port, flaky_port, ccr_port, config, server_root) as (fake, server):
        await wait_healthy(f"http://127.0.0.1:{fake_port}/health")
        await wait_healthy(f"http://127.0.0.1:{flaky_port}/health")
        await wait_healthy(f"http://127.0.0.1:{ccr_port}/health")
        rss_started = memory_mb(server.pid)["VmRSS"]
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
            bench = Bench(session, fake_url, f"http://127.0.0.1:{ccr_port}/v1/messages?beta=true", seconds, samples)
            bench.pids = {"server": server.pid, "fake": fake.pid}
            runs = [await bench.run_once() for _ in range(repeats)]
            if fallback_requests:
                flaky = json.dumps({**SMALL, "stream": True, "model": "flaky,fake-model"}).encode()
                fallback = await fallback_run(session, bench.ccr_url, flaky, CCR_HEADERS, fallback_requests, 16)
        peak = memory_mb(server.pid)["VmHWM"]
        await asyncio.sleep(TRIM_INTERVAL_S + 1)  # idle: the server hands freed memory back
        settled = memory_mb(server.pid)["VmRSS"]
        if workers > 1:
            with workers_server(env, config, server_root, workers) as url:
                await wait_healthy(url + "/health")
                async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                                 timeout=aiohttp.ClientTimeout(total=120)) as session:
                    bench.session = session
                    scaled = await every_core(bench, url, {k: statistics.median(r[k] for r in runs) for k in runs[0]})
    results: dict[str, Any] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    results.update(peak_rss_mb=peak, idle_rss_mb_after=settled, idle_rss_mb_at_start=rss_started,
                   runs=runs, load_average_before=load_before, load_average_after=os.getloadavg(),
                   cpus=os.cpu_count(), repeats=repeats, seconds=seconds, samples=samples,
                   fallback_429_half_c16=fallback, workers=workers, every_core=scaled)
    return results


def report(results: dict[str, Any]) -> str:
    def load(values: tuple[float, ...]) -> str:
        return " ".join(f"{v:.2f}" for v in values)

    lines = [f"{results['repeats']} runs, medians; {results['cpus']} CPUs; load average "
             f"{load(results['load_average_before'])} before, {load(results['load_average_after'])} after", ""]
    lines.append(f"{'workload':48s} {'result':>14s}  {'target':>10s}  met")
    for key, what, unit, target, met in TARGETS:
        value = results[key]
        shown = f"{value:.2f} {unit}" if unit == "of direct" else f"{value:+.2f} {unit}" if unit == "ms" else f"{value:.0f} {unit}"
        lines.append(f"{what:48s} {shown:>14s}  {target:>10s}  {'yes' if met(value) else 'NO'}")
    lines += ["", "details (medians):"]
    for key, value in results.items():
        if isinstance(value, float) and key not in {k for k, *_ in TARGETS}:
            lines.append(f"  {key:36s} {value:10.2f}")
    if results["every_core"]:
        scaled = results["every_core"]
        lines += ["", f"every core (--workers {results['workers']}, same direct figures):",
                  f"  {'stream 200 chunks, c=16':46s} {scaled['stream_c16']:10.2f} of direct",
                  f"  {'386 KB session, c=8, throughput':46s} {scaled['session_c8']:10.2f} of direct"]
    if results["fallback_429_half_c16"]:
        lines += ["", "fallback_429_half_c16: " + "  ".join(
            f"{k}={v}" for k, v in results["fallback_429_half_c16"].items())]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0, help="duration of each throughput run")
    parser.add_argument("--samples", type=int, default=30, help="latency samples per case")
    parser.add_argument("--repeats", type=int, default=3, help="runs of every workload; medians are reported")
    parser.add_argument("--fallback-requests", type=int, default=1000,
                        help="streamed requests of the fallback case (0: skip it)")
    parser.add_argument("--workers", type=int, default=2,
                        help="also run the c=16 stream and c=8 session through `--workers N` (1: skip)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--server-root", type=Path, default=ROOT,
                        help="run the ccr_aio of this checkout as the server (to compare two versions)")
    args = parser.parse_args()
    results = asyncio.run(run(args.seconds, args.samples, args.repeats, args.server_root.resolve(),
                            args.fallback_requests, args.workers))
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
