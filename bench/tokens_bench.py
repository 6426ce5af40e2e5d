"""Cold and warm token-count times for a ~400 KB Claude Code session (120 tool turns).

Run: .venv/bin/python bench/tokens_bench.py
Each request body is a fresh json.loads of the raw bytes, as in the server, so no string
object (and no cached str hash) survives from one count to the next.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ccr_aio.routing.tokens import TokenCounter, estimate_upper_bound, load_encoding  # noqa: E402

RUNS = 15


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def report(name: str, samples: list[float]) -> None:
    print(f"{name:<44} median {statistics.median(samples):8.2f} ms   min {min(samples):8.2f} ms")


def main() -> None:
    print(f"load_encoding (once, at startup)             {timed(load_encoding):8.2f} ms")
    from tests.test_tokens import build_large_body  # same body as the tests

    body, expected = build_large_body()
    raw = json.dumps(body, ensure_ascii=False).encode()
    grown = dict(body, messages=[*body["messages"], {"role": "user", "content": "Run the tests."}])
    raw_grown = json.dumps(grown, ensure_ascii=False).encode()
    print(f"body: {len(raw) / 1024:.0f} KiB, {len(body['messages'])} messages, {expected} tokens")

    cold, warm_new, warm_same, bound, parse = [], [], [], [], []
    for _ in range(RUNS):
        counter = TokenCounter()
        req = json.loads(raw)
        cold.append(timed(lambda: counter.count(req)))
        req = json.loads(raw_grown)
        warm_new.append(timed(lambda: counter.count(req)))
        req = json.loads(raw_grown)
        warm_same.append(timed(lambda: counter.count(req)))
        req = json.loads(raw)
        bound.append(timed(lambda: estimate_upper_bound(req)))
        parse.append(timed(lambda: json.loads(raw)))
    report("json.loads of the body (for scale)", parse)
    report("count, cold (empty cache)", cold)
    report("count, warm + 1 new message", warm_new)
    report("count, warm, nothing new", warm_same)
    report("estimate_upper_bound", bound)

    async def cold_async() -> list[float]:
        samples = []
        for _ in range(RUNS):
            counter, req = TokenCounter(), json.loads(raw)
            start = time.perf_counter()
            assert await counter.count_async(req) == expected
            samples.append((time.perf_counter() - start) * 1000)
        return samples

    report("count_async, cold (tokenizes in a thread)", asyncio.run(cold_async()))


if __name__ == "__main__":
    main()
