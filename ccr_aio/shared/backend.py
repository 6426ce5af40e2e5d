"""A tiny key/value interface for shared state, and the in-process implementation.

Values are bytes with a TTL, grouped in named spaces ("images", "usage", "health"). The
interface is coarse on purpose: a request does at most a read or two and a write, and every
method is async so a remote store never blocks the event loop. `update` is the one atomic
read-modify-write (a lock, a SQLite transaction, or Redis WATCH/MULTI).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Protocol

Change = Callable[[bytes | None], bytes]
MAX_ITEMS = 10_000  # per space
# Spaces with big values keep fewer (images are ~0.1-2 MB each).
SPACE_LIMITS = {"images": 256}


def limit_of(space: str, default: int) -> int:
    return SPACE_LIMITS.get(space, default)


class Backend(Protocol):
    async def get_many(self, space: str, keys: Iterable[str]) -> dict[str, bytes]:
        """The values of the keys that have a live one."""
        ...

    async def put(self, space: str, key: str, value: bytes, ttl: float) -> None: ...

    async def update(self, space: str, key: str, change: Change, ttl: float) -> bytes:
        """Store `change(old)` atomically; returns the new value."""
        ...

    async def items(self, space: str) -> dict[str, bytes]:
        """Every live value of the space (small spaces only: the health records)."""
        ...

    async def clear(self, space: str) -> None: ...

    async def close(self) -> None: ...


async def get_one(backend: Backend, space: str, key: str) -> bytes | None:
    return (await backend.get_many(space, (key,))).get(key)


class MemoryBackend:
    """One process's state: bounded per space (oldest write goes first) and by TTL."""

    def __init__(self, max_items: int = MAX_ITEMS, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_items, self.clock = max_items, clock
        self._spaces: dict[str, OrderedDict[str, tuple[float, bytes]]] = {}

    def _space(self, space: str) -> OrderedDict[str, tuple[float, bytes]]:
        return self._spaces.setdefault(space, OrderedDict())

    def _live(self, space: str, key: str) -> bytes | None:
        items = self._space(space)
        item = items.get(key)
        if item is None:
            return None
        if item[0] <= self.clock():
            del items[key]
            return None
        return item[1]

    async def get_many(self, space: str, keys: Iterable[str]) -> dict[str, bytes]:
        found = {key: self._live(space, key) for key in keys}
        return {key: value for key, value in found.items() if value is not None}

    async def put(self, space: str, key: str, value: bytes, ttl: float) -> None:
        items = self._space(space)
        items.pop(key, None)
        items[key] = (self.clock() + ttl, value)
        while len(items) > limit_of(space, self.max_items):
            items.popitem(last=False)

    async def update(self, space: str, key: str, change: Change, ttl: float) -> bytes:
        value = change(self._live(space, key))  # no await in between: atomic on the loop
        await self.put(space, key, value, ttl)
        return value

    async def items(self, space: str) -> dict[str, bytes]:
        return await self.get_many(space, list(self._space(space)))

    async def clear(self, space: str) -> None:
        self._spaces.pop(space, None)

    async def close(self) -> None:
        self._spaces.clear()
