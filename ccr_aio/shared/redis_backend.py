"""Shared state in Redis (`REDIS_URL`), for several instances behind a load balancer.

Keys are `ccr:<space>:<key>`; every write sets a TTL, so nothing grows without bound. Short
socket timeouts: a Redis that went away must fail fast so the failover can serve locally.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .backend import Change

PREFIX = "ccr:"
TIMEOUT_S = 1.0


def _ms(ttl: float) -> int:
    return max(1, int(ttl * 1000))


class RedisBackend:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._client: Any = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S, retry_on_timeout=False)

    @staticmethod
    def _key(space: str, key: str) -> str:
        return f"{PREFIX}{space}:{key}"

    async def get_many(self, space: str, keys: Iterable[str]) -> dict[str, bytes]:
        names = list(keys)
        if not names:
            return {}
        values = await self._client.mget([self._key(space, k) for k in names])
        return {k: bytes(v) for k, v in zip(names, values) if v is not None}

    async def put(self, space: str, key: str, value: bytes, ttl: float) -> None:
        await self._client.set(self._key(space, key), value, px=_ms(ttl))

    async def update(self, space: str, key: str, change: Change, ttl: float) -> bytes:
        name = self._key(space, key)
        result: list[bytes] = []

        async def apply(pipe: Any) -> None:
            old = await pipe.get(name)
            value = change(bytes(old) if old is not None else None)
            pipe.multi()
            pipe.set(name, value, px=_ms(ttl))
            result[:] = [value]

        await self._client.transaction(apply, name)
        return result[0]

    async def _names(self, space: str) -> list[str]:
        return [name async for name in self._client.scan_iter(match=f"{PREFIX}{space}:*", count=500)]

    async def items(self, space: str) -> dict[str, bytes]:
        names = await self._names(space)
        if not names:
            return {}
        values = await self._client.mget(names)
        cut = len(PREFIX) + len(space) + 1
        return {bytes(n).decode()[cut:] if isinstance(n, bytes) else n[cut:]: bytes(v)
                for n, v in zip(names, values) if v is not None}

    async def clear(self, space: str) -> None:
        names = await self._names(space)
        if names:
            await self._client.delete(*names)

    async def close(self) -> None:
        await self._client.aclose()
