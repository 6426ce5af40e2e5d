"""Connection-level guards aiohttp does not have: a header deadline, a body deadline and a cap.

aiohttp closes a connection that is idle `keepalive_timeout` after accept or after its last
answer, but has no separate deadline for headers in progress (a client sending one header line
every few seconds keeps its socket), none for a body trickling in, and no limit on connections
(past the descriptor limit accept() fails with EMFILE and even /health goes dark). So:

- headers: a request's header block must be complete `header_timeout` after accept, or after
  its first byte on a kept-alive connection; else the connection is closed;
- body: the body must be complete `body_timeout` after its headers; else the handler reading it
  gets a 408 (in the error shape) and the connection closes after that answer;
- cap: past `limit` open connections the oldest one still waiting for its headers (else the
  oldest idle kept-alive one) is closed to make room; when every connection is busy with a
  request the newcomer gets a 503 and is closed. Requests in flight are never dropped.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from ..errors import ApiError, error_body

log = structlog.get_logger("ccr_aio.connections")
_BUSY = json.dumps(error_body(503, "Too many open connections; try again")).encode()
REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
           b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY), _BUSY))


class ConnectionGuard:
    """Open connections of one server, in accept order, and the cap on how many."""

    def __init__(self, limit: int, header_timeout: float, body_timeout: float) -> None:
        self.limit, self.header_timeout, self.body_timeout = limit, header_timeout, body_timeout
        self.open: dict[GuardedRequestHandler, None] = {}
        self.waiting: dict[GuardedRequestHandler, None] = {}  # headers not complete yet
        self.evicted = self.refused = 0

    def admit(self, conn: GuardedRequestHandler) -> bool:
        """Register a new connection; False when it must be refused."""
        self.open[conn] = None
        if len(self.open) <= self.limit:
            return True
        victim = next((c for c in self.waiting if c is not conn), None)
        if victim is None:
            victim = next((c for c in self.open if c is not conn and c.idle), None)
        if victim is None:
            self.forget(conn)
            self.refused += 1
            return False
        self.forget(victim)
        self.evicted += 1
        victim.force_close()
        return True

    def forget(self, conn: GuardedRequestHandler) -> None:
        self.open.pop(conn, None)
        self.waiting.pop(conn, None)

    def close_idle(self) -> int:
        """Shutdown: close every connection that is not in the middle of a request."""
        idle = [conn for conn in self.open if conn.idle]
        for conn in idle:
            self.forget(conn)
            conn.force_close()
        return len(idle)


class GuardedRequestHandler(RequestHandler):
    """aiohttp's protocol plus the deadlines and the cap of a `ConnectionGuard`."""

    __slots__ = ("_guard", "_deadline", "_body")

    def __init__(self, manager: Any, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._deadline: asyncio.TimerHandle | None = None
        self._body: StreamReader | None = None  # the body still arriving, if any

    @property
    def idle(self) -> bool:
        """No request is being handled or queued on this connection."""
        return not (getattr(self, "_request_in_progress", True) or self._messages or self._receiving_body)

    @property
    def _receiving_body(self) -> bool:
        return self._body is not None and not self._body.is_eof()

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if not self._guard.admit(self):
            transport.write(REFUSAL)
            log.warning("connection_refused", reason="too many open connections", limit=self._guard.limit)
            self.force_close()
            return
        self._expect_headers()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_deadline()
        self._guard.forget(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if data and self not in self._guard.waiting and not self._receiving_body:
            self._expect_headers()  # the first byte of the next request on a kept-alive connection
        parsed = self._request_count
        super().data_received(data)
        if self._request_count != parsed:
            self._headers_complete()
        elif self._body is not None and self._body.is_eof():
            self._body = None
            self._stop_deadline()

    def _expect_headers(self) -> None:
        self._guard.waiting[self] = None
        self._start_deadline(self._guard.header_timeout, self._headers_late)

    def _headers_complete(self) -> None:
        self._guard.waiting.pop(self, None)
        self._stop_deadline()
        payload = self._messages[-1][1] if self._messages else None
        self._body = payload if isinstance(payload, StreamReader) and not payload.is_eof() else None
        if self._body is not None:
            self._start_deadline(self._guard.body_timeout, self._body_late)

    def _headers_late(self) -> None:
        self._deadline = None
        if self in self._guard.waiting:
            log.debug("header_timeout", timeout_s=self._guard.header_timeout)
            self._guard.forget(self)
            self.force_close()

    def _body_late(self) -> None:
        self._deadline = None
        body, self._body = self._body, None
        if body is None or body.is_eof():
            return
        log.info("body_timeout", timeout_s=self._guard.body_timeout)
        if not getattr(self, "_request_in_progress", False):
            self.force_close()  # nobody is reading it: the answer was sent already
            return
        # The handler reading the body answers 408; then the connection closes, without the
        # usual wait for the rest of the body.
        self._lingering_time = 0.0
        self.close()
        body.set_exception(ApiError(408, f"Request body not received within "
                                         f"{self._guard.body_timeout:g} s"))

    def _start_deadline(self, delay: float, callback: Any) -> None:
        self._stop_deadline()
        self._deadline = self._loop.call_later(delay, callback)

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
