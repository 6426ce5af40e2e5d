"""The body of `GET /api/providers/health`: every configured provider, model and pooled key,
with its state (ok / cooling until <time> / disabled), last error and consecutive failures.

Built from the configured providers, not only from the records, so a model that never failed
is listed as ok. Keys appear by index only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from .cooldown import HEALTHY, Health
from .store import HealthStore
from .targets import KeyRef, ProviderPool, Target


async def health_report(store: HealthStore, providers: Sequence[ProviderPool], now: float) -> dict[str, Any]:
    records = await store.snapshot()
    return {
        "time": now,
        "providers": [
            {
                "name": provider.name,
                "models": [
                    {"model": model, **describe(records.get(Target(provider.name, model)), now)}
                    for model in provider.models
                ],
                "keys": [
                    {"index": index, **describe(records.get(KeyRef(provider.name, index)), now)}
                    for index in range(provider.key_count)
                ] if provider.pooled else [],
            }
            for provider in providers
        ],
    }


def describe(health: Health | None, now: float) -> dict[str, Any]:
    health = health or HEALTHY
    state = health.state(now)
    cooling = state == "cooling"
    return {
        "state": state,
        "until": health.until if cooling else None,
        "until_iso": _iso(health.until) if cooling else None,
        "seconds_left": round(health.until - now, 3) if cooling else None,
        "last_error": health.last_error,
        "last_error_at": health.last_error_at,
        "consecutive_failures": health.consecutive_failures,
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="seconds")
