"""What request records cost: ccr-aio with `USAGE: true` (the default), with `USAGE: false`, and
optionally a checkout without request records at all (`--baseline DIR`).

Starts the fake OpenAI provider and one ccr-aio process per variant on 127.0.0.1, then measures
them in alternating rounds (A, B, C, A, B, C, ...), so the load of a shared machine hits all
alike, and compares the medians of the rounds:
  1. CPU time of the server process per streamed request (200 chunks, c=16), from /proc: on a
     busy machine this is what throughput follows, and it does not swing with the neighbours'
     load the way req/s does (reported too)
  2. p50 latency at c=1, streamed and non-streamed, one request to each variant in turn
  3. in-process: the CPU time of one record's path (start, events, finish: metrics and the
     queue) and of its request_completed log line
USAGE false keeps the metrics and the log line and drops only the SQLite file.
Usage: python bench/records_bench.py [--requests 1500] [--rounds 5] [--samples 400] [--baseline DIR]
       [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.bench import SMALL, free_port, read_all, start, wait_healthy  # noqa: E402

HEADERS = {"Content-Type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": "x"}
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def server_config(home: Path, name: str, fake_url: str, port: int, usage: bool) -> Path:
    path = home / name / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({
        "PORT": port, "USAGE": usage,
        "Providers": [{"name": "fake", "api_base_url": fake_url, "api_key": "sk-bench", "models": ["fake-model"],
                       "pricing": {"fake-model": {"input": 0.27, "output": 1.1}}}],
        "Router": {"default": "fake,fake-model"},
    }))
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads (the SQLite writer thread included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


async def fixed_count(call: Any, count: int, concurrency: int) -> float:
    """Make `count` calls, `concurrency` at a time; returns the wall time."""
    left = count

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call()

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.monotonic() - began


STREAM = json.dumps({**SMALL, "stream": True}).encode()
PLAIN = json.dumps(SMALL).encode()


async def measure(session: aiohttp.ClientSession, url: str, pid: int, count: int) -> dict[str, float]:
    cpu = cpu_seconds(pid)
    wall = await fixed_count(lambda: read_all(session, url, STREAM, HEADERS), count, 16)
    cpu = cpu_seconds(pid) - cpu
    return {"stream_c16_cpu_ms_per_request": cpu / count * 1000, "stream_c16_rps": count / wall}


async def interleaved_latency(session: aiohttp.ClientSession, urls: dict[str, str], body: bytes,
                              samples: int) -> dict[str, float]:
    """p50 at c=1, one request to each variant in turn: a burst of load on the machine then
    hits every variant alike, which rounds of one variant at a time cannot promise."""
    times: dict[str, list[float]] = {name: [] for name in urls}
    for i in range(samples):
        names = list(urls)[i % len(urls):] + list(urls)[: i % len(urls)]
        for name in names:
            times[name].append(await read_all(session, urls[name], body, HEADERS))
    return {name: round(statistics.median(values) * 1000, 3) for name, values in times.items()}


def record_cpu_us(count: int = 20_000) -> float:
    """CPU time of one record's whole path in this process: what each request adds."""
    from ccr_aio.records import Recorder

    recorder = Recorder()  # no store: its writes happen off the loop, in batches
    pricing = {"fake-model": {"input": 0.27, "output": 1.1}}
    start_event = {"type": "message_start", "message": {"usage": {"input_tokens": 1000, "output_tokens": 1}}}
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 200}}
    began = time.process_time()
    for i in range(count):
        builder = recorder.start(f"r{i}", stream=True, session="s", requested_model="claude")
        builder.attempt("fake", "fake-model", pricing)
        builder.first_byte()
        builder.observe_event(start_event)
        builder.observe_event(delta)
        recorder.finish(builder, 200)
    return (time.process_time() - began) / count * 1e6


def log_line_cpu_us(home: Path, count: int = 5_000) -> float:
    """CPU time of one request_completed line, rendered as JSON into the server log file."""
    from ccr_aio.logs import close_logging, setup_logging
    from ccr_aio.records import Recorder
    from ccr_aio.routes.request_record import log_record
    from ccr_aio.settings import build_settings

    settings = build_settings({"LOG": True}, home / "log-bench" / "config.json", env={})
    setup_logging(settings, console=False)
    recorder = Recorder()
    builder = recorder.start("r", stream=True, session="s", requested_model="claude")
    builder.attempt("fake", "fake-model")
    record = recorder.finish(builder, 200)
    assert record is not None
    began = time.process_time()
    for _ in range(count):
        log_record(record)
    spent = time.process_time() - began
    close_logging()
    return spent / count * 1e6


async def run(count: int, rounds: int, samples: int, baseline: Path | None) -> dict[str, Any]:
    fake_port = free_port()
    home = Path(tempfile.mkdtemp(prefix="ccr-records-bench-"))
    fake_url = f"http://127.0.0.1:{fake_port}/v1/chat/completions"
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    variants = {"usage_true": (True, ROOT), "usage_false": (False, ROOT)}
    if baseline is not None:
        variants["no_records"] = (True, baseline)  # USAGE unknown there: no records at all
    procs = [start(["-m", "tests.fakes.serve", "--port", str(fake_port), "--chunks", "200"], env)]
    servers: dict[str, tuple[str, int]] = {}
    for name, (usage, code) in variants.items():
        port = free_port()
        config = server_config(home, name, fake_url, port, usage)
        # Run from the variant's folder: `-m` puts the working directory first on sys.path.
        proc = subprocess.Popen([sys.executable, "-m", "ccr_aio", "--no-console", "--config", str(config)],
                                cwd=code, env={**env, "PYTHONPATH": str(code)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        servers[name] = (f"http://127.0.0.1:{port}/v1/messages", proc.pid)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
    try:
        await wait_healthy(f"http://127.0.0.1:{fake_port}/health")
        for url, _ in servers.values():
            await wait_healthy(url.replace("/v1/messages", "/health"))
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
            for url, pid in servers.values():  # warm-up: pools, tokenizer, first-use imports
                await measure(session, url, pid, 100)
            names = list(servers)
            for i in range(rounds):
                for name in names[i % len(names):] + names[: i % len(names)]:  # rotate who goes first
                    url, pid = servers[name]
                    runs[name].append(await measure(session, url, pid, count))
            urls = {name: url for name, (url, _) in servers.items()}
            latency = {"stream_c1_p50_ms": await interleaved_latency(session, urls, STREAM, samples),
                       "json_c1_p50_ms": await interleaved_latency(session, urls, PLAIN, samples)}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
    results: dict[str, Any] = {}
    for metric in runs["usage_true"][0]:
        results[metric] = {name: round(statistics.median(r[metric] for r in rounds_), 3)
                           for name, rounds_ in runs.items()}
        spread = {name: [round(r[metric], 2) for r in rounds_] for name, rounds_ in runs.items()}
        reference = results[metric].get("no_records", results[metric]["usage_false"])
        results[metric]["usage_true_vs_" + ("no_records" if "no_records" in runs else "usage_false")] = round(
            results[metric]["usage_true"] / reference, 3)
        results[metric]["rounds"] = spread
    for metric, p50 in latency.items():
        reference = p50.get("no_records", p50["usage_false"])
        results[metric] = {**p50, "usage_true_minus_" + ("no_records" if "no_records" in p50 else "usage_false"):
                           round(p50["usage_true"] - reference, 3)}
    results["record_path_cpu_us"] = {"per_request": round(record_cpu_us(), 1),
                                     "log_line": round(log_line_cpu_us(home), 1)}
    results["usage_file_rows"] = {"usage_true": count_rows(home / "usage_true" / "usage.db")}
    return results


def count_rows(path: Path) -> int:
    from ccr_aio.records import UsageDatabase

    database = UsageDatabase(path, retention_days=None)
    try:
        return database.count()
    finally:
        database.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1500, help="streamed requests per c=16 round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per server")
    parser.add_argument("--samples", type=int, default=400, help="c=1 latency samples per case and variant")
    parser.add_argument("--baseline", type=Path, help="a ccr-aio checkout without request records")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = asyncio.run(run(args.requests, args.rounds, args.samples, args.baseline))
    for name, figures in results.items():
        print(f"{name:30s} " + "  ".join(f"{k}={v}" for k, v in figures.items() if k != "rounds"))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
