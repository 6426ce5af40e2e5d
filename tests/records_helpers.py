"""Records with known numbers, and waiting on a condition with a deadline (or for records)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ccr_aio.records import RequestRecord
from tests.test_cli import wait_for

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


async def recorded(client: Any, count: int, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """/api/requests once it lists `count` records. A server with several workers has each
    worker's records on disk within a second (each writes its own in batches): a record of a
    request another worker served may come after the answer."""
    async def listed() -> list[dict[str, Any]] | None:
        response = await client.get("/api/requests?limit=1000", headers=headers or {})
        rows: list[dict[str, Any]] = (await response.json())["requests"]
        return rows if len(rows) >= count else None

    found: list[dict[str, Any]] = await wait_for(listed, what=f"{count} records")
    return found
