"""The fallback workload of bench.py: a primary that answers 429 to every other call
(retry-after: 0, so it is never skipped) and a healthy fallback; every streamed request must
complete."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import aiohttp

FLAKY_FAKE_ARGS = ["--fail-every", "2", "--fail-status", "429", "--retry-after", "0"]


def flaky_provider(flaky_url: str) -> dict[str, Any]:
    """The config entry of the primary; requests naming it fall back to `fake`."""
    return {"name": "flaky", "api_base_url": flaky_url, "api_key": "sk-bench", "models": ["fake-model"]}


FALLBACK = {"flaky,fake-model": ["fake,fake-model"]}


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
