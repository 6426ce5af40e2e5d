"""Sessions: which Claude Code session a request belongs to, its project, its last usage.

Claude Code names the session in `metadata.user_id` — older versions as `..._session_<id>`,
current ones as a JSON string `{"device_id":..,"account_uuid":..,"session_id":..}` — and in
the `X-Claude-Code-Session-Id` header. The project is the folder of `~/.claude/projects/`
holding `<session>.jsonl`; per-project and per-session routers live in
`~/.claude-code-router/<project>/config.json` and `.../<project>/<session>.json`.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar

import structlog
from aiohttp import web

from ..jsonutil import loads

from ..config import RouterConfig, describe, parse_router_config
from ..shared.backend import Backend, get_one

log = structlog.get_logger("ccr_aio.sessions")
K = TypeVar("K")
V = TypeVar("V")
MISS_RETRY_S = 30.0
USAGE_SPACE = "usage"
USAGE_TTL_S = 24 * 3600.0  # a session idle for a day starts afresh
SETTLE_S = 1.0  # an answer waits this long at most for its usage to reach the shared store


class LRU(Generic[K, V]):
    """A small bounded mapping; the least recently used entry goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, default: V | None = None) -> V | None:
        try:
            value = self._data[key]
        except KeyError:
            return default
        self._data.move_to_end(key)
        return value

    def __contains__(self, key: K) -> bool:
        return key in self._data

    def set(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)


def session_id(body: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    user_id = (body.get("metadata") or {}).get("user_id") if isinstance(body.get("metadata"), dict) else None
    if isinstance(user_id, str) and user_id:
        if user_id.startswith("{"):
            try:
                parsed = loads(user_id)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict) and parsed.get("session_id"):
                return str(parsed["session_id"])
        elif "_session_" in user_id:
            return user_id.rsplit("_session_", 1)[1] or None
    return headers.get("X-Claude-Code-Session-Id") or None


def _safe_name(value: str) -> bool:
    return bool(value) and "/" not in value and "\\" not in value and value not in (".", "..")


class Sessions:
    """Per-process session knowledge that survives config reloads."""

    def __init__(self, home: Path | None = None, size: int = 2048) -> None:
        self._home = home
        self.projects: LRU[str, tuple[str | None, float]] = LRU(size)
        self.usage: LRU[str, int] = LRU(size)
        # With several workers or instances, the last usage is also written there, so the
        # "previous turn was long" rule sees it whichever worker gets the next request.
        self.shared: Backend | None = None
        self._writes: set[asyncio.Task[None]] = set()
        self._latest: dict[str, asyncio.Task[None]] = {}  # per session, until it is written

    @property
    def home(self) -> Path:
        return self._home or Path.home()

    def record_usage(self, session: str | None, usage: Mapping[str, Any] | None) -> None:
        """Remember the prompt size of the session's latest response (for the long-context rule)."""
        if not session or not usage:
            return
        total = sum(int(usage.get(k) or 0) for k in
                    ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"))
        if total:
            self.usage.set(session, total)
            if self.shared is not None:  # called from sync code: written in the background
                task = asyncio.ensure_future(self.shared.put(USAGE_SPACE, session, str(total).encode(), USAGE_TTL_S))
                self._writes.add(task)
                self._latest[session] = task
                task.add_done_callback(partial(self._written, session))

    def _written(self, session: str, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        if self._latest.get(session) is task:
            del self._latest[session]
        if not task.cancelled() and task.exception() is not None:
            log.warning("session_usage_not_shared", error=type(task.exception()).__name__)

    async def settled(self, session: str | None) -> None:
        """Wait until the session's latest usage is in the shared store (at most SETTLE_S):
        an answer ends after this, so the session's next request, on whichever worker,
        finds it. Nothing to wait for in a single process."""
        task = self._latest.get(session) if session else None
        if task is not None:
            await asyncio.wait({task}, timeout=SETTLE_S)

    async def previous_usage(self, session: str) -> int | None:
        """The prompt size of the session's latest response, from whichever worker served it."""
        if self.shared is None:
            return self.usage.get(session)
        value = await get_one(self.shared, USAGE_SPACE, session)
        return int(value) if value is not None and value.isdigit() else self.usage.get(session)

    async def project_of(self, session: str) -> str | None:
        cached = self.projects.get(session)
        now = time.monotonic()
        if cached is not None and (cached[0] is not None or now < cached[1]):
            return cached[0]
        project = await asyncio.to_thread(self._find_project, session) if _safe_name(session) else None
        # A miss is retried later: Claude Code may write the transcript after its first call.
        self.projects.set(session, (project, now + MISS_RETRY_S))
        return project

    def _find_project(self, session: str) -> str | None:
        root = self.home / ".claude" / "projects"
        try:
            for folder in root.iterdir():
                if (folder / f"{session}.jsonl").is_file():
                    return folder.name
        except OSError:
            return None
        return None

    async def project_router(self, ccr_home: Path, project: str, session: str) -> RouterConfig | None:
        """The session's Router, else the project's, else None. Read off the event loop."""
        return await asyncio.to_thread(self._read_project_router, ccr_home, project, session)

    @staticmethod
    def _read_project_router(ccr_home: Path, project: str, session: str) -> RouterConfig | None:
        import pyjson5

        folder = ccr_home / project
        for path in (folder / f"{session}.json", folder / "config.json"):
            try:
                data = pyjson5.decode(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue
            except (OSError, ValueError, pyjson5.Json5Exception) as exc:
                log.warning("project_config_unreadable", path=str(path), error=str(exc)[:200])
                continue
            if not isinstance(data, dict) or data.get("Router") is None:
                continue
            # The same parser as the main config's Router; a file with problems is skipped.
            parsed = parse_router_config(data["Router"])
            if parsed.value is None:
                log.warning("project_router_invalid", path=str(path), error=describe(parsed.problems)[:500])
                continue
            return parsed.value
        return None


SESSIONS = web.AppKey("sessions", Sessions)  # the app's session table
