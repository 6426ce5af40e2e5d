"""Records with known numbers, and waiting on a condition with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ccr_aio.records import RequestRecord

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def make_record(**overrides: Any) -> RequestRecord:
    fields: dict[str, Any] = {
        "id": "req-1", "time": T0, "session": "s1", "project": "p1", "client_key": "alice",
        "scenario": "default", "requested_model": "claude-sonnet-4", "provider": "deepseek",
        "model": "deepseek-chat", "attempts": 1,
        "providers_tried": ({"provider": "deepseek", "model": "deepseek-chat", "status": None},),
        "stream": True, "status": 200, "error": None, "ttfb_ms": 120.0, "duration_ms": 900.0,
        "input_tokens": 100, "output_tokens": 20, "cache_read_tokens": 50,
        "cache_creation_tokens": 0, "cost_usd": 0.001,
    }
    fields.update(overrides)
    return RequestRecord(**fields)


async def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Check `condition` on every turn of the loop until it is truthy; fail at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)
