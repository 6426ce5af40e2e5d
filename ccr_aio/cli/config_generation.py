"""With N workers, a config change made in one worker is in force in all of them before the
answer that made it: after a save (`POST /api/config`), `/api/reload` or a preset merge
answers, no request runs on the old config, whichever worker it reaches.

The SIGHUP that the parent forwards to every worker reloads them too, but each one in its own
time: a request that reaches another worker a millisecond after the answer could still get the
old Router or keys. So the workers also share a generation: 8 bytes in memory mapped by the
parent before it forks them. The worker that applied a change writes a new value there (before
its answer); each worker checks it as a request arrives (a memory read) and, when it differs
from the one it has seen, reloads the config file before handling the request. The reload
the parent's SIGHUP brings counts as seen, so a worker reloads once per change.
"""

from __future__ import annotations

import asyncio
import mmap
import secrets

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from ..routes.admin import reload_from_disk
from ..settings import ConfigError

log = structlog.get_logger("ccr_aio")
SIZE = 8


class ConfigGeneration:
    """Made in the parent before the fork (the mapping is then shared); used in the workers."""

    def __init__(self) -> None:
        self._shared = mmap.mmap(-1, SIZE)  # anonymous and shared: forked workers see one page
        self._seen = self._shared[:SIZE]  # per process from the fork on
        self._lock: asyncio.Lock | None = None

    def changed_here(self) -> None:
        """This worker applied a new config: the others reload before their next request."""
        token = secrets.token_bytes(SIZE)
        self._shared[:SIZE] = token
        self._seen = token

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._shared[:SIZE] != self._seen or (self._lock is not None and self._lock.locked()):
            await self.reload(request.app)
        return await handler(request)

    async def reload(self, app: web.Application, always: bool = False) -> None:
        """Reload the config file if another worker changed it since (`always`: SIGHUP).
        Requests that arrive meanwhile wait for it (the middleware)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            current = self._shared[:SIZE]
            if current == self._seen and not always:
                return
            self._seen = current
            try:
                await reload_from_disk(app)
            except ConfigError as exc:
                log.error("reload_failed", error=str(exc), note="still running with the previous config")
