"""Two fake providers (a primary with a key pool, and a backup), the config that joins them
with a `fallback` list, and small helpers to call the app and read what it answered."""

from __future__ import annotations

from typing import Any

from ccr_aio.pipeline.fallback import RESILIENCE
from tests.resilience_helpers import FakeClock
from tests.stream_grammar import parse_sse_bytes

KEY_ONE = "sk-primary-key-one-000000"
KEY_TWO = "sk-primary-key-two-000000"
BACKUP_KEY = "sk-backup-key-0000000000"
USER = [{"role": "user", "content": "hi"}]


def two_providers(primary: Any, backup: Any, *, keys: Any = (KEY_ONE, KEY_TWO),
                  fallback: Any = None, **extra: Any) -> dict[str, Any]:
    """`primary,p-model` (default route; a pool when `keys` has several) falls back to
    `backup,b-model`, unless `fallback` says otherwise."""
    return {
        "Providers": [
            {"name": "primary", "api_base_url": primary.url, "models": ["p-model", "p-vision"],
             "api_key": list(keys) if isinstance(keys, tuple) else keys},
            {"name": "backup", "api_base_url": backup.url, "api_key": BACKUP_KEY, "models": ["b-model"]},
        ],
        "Router": {"default": "primary,p-model"},
        "fallback": {"default": ["backup,b-model"]} if fallback is None else fallback,
        **extra,
    }


def fake_clock(client: Any) -> FakeClock:
    """Put the app's health and cooldowns on a clock the test moves."""
    clock = FakeClock()
    client.app[RESILIENCE].clock = clock
    return clock


async def ask(client: Any, *, stream: bool = False, session: str | None = None, **body: Any) -> tuple[Any, Any]:
    """POST /v1/messages; returns the response and its JSON body or its parsed SSE events."""
    headers = {"X-Claude-Code-Session-Id": session} if session else {}
    payload = {"model": "claude-sonnet-4", "max_tokens": 50, "messages": USER, "stream": stream, **body}
    response = await client.post("/v1/messages", json=payload, headers=headers)
    if stream and response.content_type == "text/event-stream":
        return response, parse_sse_bytes(await response.read())
    return response, await response.json()


def route_of(response: Any) -> tuple[str | None, int]:
    """What answered, and after how many attempts, as the response headers say."""
    return response.headers.get("x-ccr-route"), int(response.headers["x-ccr-attempts"])


def text_of(events_or_message: Any) -> str:
    if isinstance(events_or_message, list):
        return "".join(e["delta"].get("text", "") for e in events_or_message if e["type"] == "content_block_delta")
    return "".join(b.get("text", "") for b in events_or_message["content"])


async def health(client: Any) -> dict[str, Any]:
    """GET /api/providers/health, as {provider: {"models": {model: entry}, "keys": [entries]}}."""
    response = await client.get("/api/providers/health")
    assert response.status == 200
    report = await response.json()
    return {p["name"]: {"models": {m["model"]: m for m in p["models"]}, "keys": p["keys"]}
            for p in report["providers"]}
