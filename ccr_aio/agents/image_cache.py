"""A bounded, TTL'd store of image sources, keyed by a hash of the image.

The id is derived from the image itself, so a conversation that re-sends the same screenshot
on every request keeps the same `[Image #<id>]` placeholder (stable prompt, prompt caching
keeps working) and re-storing it only refreshes its expiry.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..jsonutil import dumps, loads
from ..shared.backend import Backend, get_one

SPACE = "images"

DEFAULT_TTL_S = 30 * 60.0
DEFAULT_MAX_ITEMS = 256
DEFAULT_MAX_BYTES = 128 * 1024 * 1024  # base64 text; screenshots are ~0.1-2 MB each
ID_CHARS = 10  # 40 bits of hash: collisions are negligible for a few hundred live images


def _payload(source: dict[str, Any]) -> str:
    for key in ("data", "url", "file_id"):
        value = source.get(key)
        if isinstance(value, str):
            return value
    return repr(sorted(source.items()))


def image_id(source: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(str(source.get("type")).encode())
    digest.update(str(source.get("media_type")).encode())
    digest.update(_payload(source).encode())
    return digest.hexdigest()[:ID_CHARS]


class ImageCache:
    """id → image source, least recently stored evicted first (by count and by size)."""

    def __init__(
        self,
        ttl_s: float = DEFAULT_TTL_S,
        max_items: int = DEFAULT_MAX_ITEMS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s, self.max_items, self.max_bytes, self.clock = ttl_s, max_items, max_bytes, clock
        self._items: OrderedDict[str, tuple[float, int, dict[str, Any]]] = OrderedDict()
        self._bytes = 0
        # With several workers or instances, images are also written there: an id from one
        # request is resolved by whichever worker gets the next.
        self.shared: Backend | None = None
        self._writes: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, source: dict[str, Any]) -> str:
        """Store `source` (or refresh it) and return its id."""
        key = image_id(source)
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= old[1]
        size = len(_payload(source))
        now = self.clock()
        self._items[key] = (now + self.ttl_s, size, source)
        self._bytes += size
        self._evict()
        # Claude Code re-sends every image on every turn: write one to the shared store when
        # this process first sees it, and again only when half its TTL has passed.
        if self.shared is not None and (old is None or old[0] - now < self.ttl_s / 2):
            self._share(key, source)
        return key

    def _share(self, key: str, source: dict[str, Any]) -> None:
        assert self.shared is not None
        task = asyncio.ensure_future(self.shared.put(SPACE, key, dumps(source).encode(), self.ttl_s))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def flush(self) -> None:
        """Wait until this process's new images are in the shared store (errors: local only)."""
        if self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    async def fetch(self, key: str) -> dict[str, Any] | None:
        """`get`, else the shared store (the image came with a request another worker served)."""
        found = self.get(key)
        if found is not None or self.shared is None or not key:
            return found
        value = await get_one(self.shared, SPACE, key)
        if value is None:
            return None
        try:
            source = loads(value)
        except ValueError:
            return None
        if not isinstance(source, dict) or image_id(source) != key:
            return None
        self.put(source)
        return source

    def get(self, key: str) -> dict[str, Any] | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= self.clock():
            self._drop(key)
            return None
        return item[2]

    def _drop(self, key: str) -> None:
        _, size, _ = self._items.pop(key)
        self._bytes -= size

    def _evict(self) -> None:
        now = self.clock()
        # Oldest first; the newest entry always stays, even when it alone is over the byte cap.
        while len(self._items) > 1:
            key, (expires, _, _) = next(iter(self._items.items()))
            if expires > now and len(self._items) <= self.max_items and self._bytes <= self.max_bytes:
                return
            self._drop(key)


IMAGES = web.AppKey("images", ImageCache)  # the image agent's images, across requests
