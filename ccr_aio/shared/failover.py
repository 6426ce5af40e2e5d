"""Redis first; while it is away, local state — so requests never fail because of it.

The first failure logs `shared_state_unavailable` once and switches to the local backend;
every `RETRY_S` one call tries Redis again, and when it answers, `shared_state_restored` is
logged once and Redis is used again. (State written locally meanwhile stays local.)
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import structlog

from .backend import Backend, Change

log = structlog.get_logger("ccr_aio.shared")
T = TypeVar("T")
RETRY_S = 1.0


class FailoverBackend:
    def __init__(self, primary: Backend, local: Backend, clock: Callable[[], float] = time.monotonic) -> None:
        self.primary, self.local, self.clock = primary, local, clock
        self.down_since: float | None = None
        self._next_try = 0.0

    async def _call(self, op: Callable[[Backend], Awaitable[T]]) -> T:
        now = self.clock()
        if self.down_since is None or now >= self._next_try:
            if self.down_since is not None:  # one probe at a time while Redis is away
                self._next_try = now + RETRY_S
            try:
                result = await op(self.primary)
            except Exception as exc:  # noqa: BLE001 - any Redis error means: serve locally
                if self.down_since is None:
                    self.down_since = now
                    log.warning("shared_state_unavailable", error=type(exc).__name__,
                                note="using this process's local state until Redis answers")
                self._next_try = now + RETRY_S
            else:
                if self.down_since is not None:
                    log.info("shared_state_restored", down_s=round(now - self.down_since, 3))
                    self.down_since = None
                return result
        return await op(self.local)

    async def get_many(self, space: str, keys: Iterable[str]) -> dict[str, bytes]:
        names = list(keys)
        return await self._call(lambda b: b.get_many(space, names))

    async def put(self, space: str, key: str, value: bytes, ttl: float) -> None:
        await self._call(lambda b: b.put(space, key, value, ttl))

    async def update(self, space: str, key: str, change: Change, ttl: float) -> bytes:
        return await self._call(lambda b: b.update(space, key, change, ttl))

    async def items(self, space: str) -> dict[str, bytes]:
        return await self._call(lambda b: b.items(space))

    async def clear(self, space: str) -> None:
        await self._call(lambda b: b.clear(space))

    async def close(self) -> None:
        try:
            await self.primary.close()
        finally:
            await self.local.close()
