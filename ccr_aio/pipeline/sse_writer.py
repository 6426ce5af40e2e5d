"""Anthropic events (or passthrough SSE bytes) → the client's streaming HTTP response."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Literal, overload

import structlog
from aiohttp import web

from ..errors import ApiError, error_body
from ..records import CLIENT_CLOSED
from ..shapes.anthropic import AnthropicEvent
from .exchange import passthrough_usage
from .record_hooks import BODY_LOG, RECORD, raw_stream_error, stream_error
from .sse import encode_event

# The stream's events keep the logger name they had when this lived with the route handler.
log = structlog.get_logger("ccr_aio.messages")
UsageHook = Callable[[Mapping[str, Any] | None], None]  # an answer's usage (Anthropic counts), or None
PING = encode_event({"type": "ping"})
CLIENT_GONE = "client_closed: the client disconnected before the answer was complete"
_RECORDED = frozenset({"message_start", "message_delta", "error"})  # events the record reads
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}


class _SseResponse(web.StreamResponse):
    # aiohttp writes a StreamResponse's headers on their own at `prepare`; held back, they leave
    # with the first events in one write (as web.Response does): a syscall less per stream.
    _send_headers_immediately = False


class SseWriter:
    """Writes events to the client as the pipeline produces them, one write per upstream read.

    Headers go out with the first flush, so an upstream that fails before producing anything
    still gets a proper HTTP error status instead of a 200 with an error event.

    The request's record (if any) learns the first byte, the usage in the events sent, and how
    a stream that started ended otherwise: an error event's status, or the client gone."""

    def __init__(
        self, request: web.Request, request_id: str, on_usage: UsageHook | None = None,
        before_end: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.request = request
        self.on_usage = on_usage
        self.before_end = before_end  # awaited before the last events go out (usage shared)
        self.response: web.StreamResponse = _SseResponse(status=200, headers={**SSE_HEADERS, "request-id": request_id})
        self.pending: list[bytes] = []
        self.record = request.get(RECORD)
        self.body_log = request.get(BODY_LOG)

    @property
    def started(self) -> bool:
        return self.response.prepared or bool(self.pending)

    async def flush(self) -> None:
        if not self.pending:
            return
        if not self.response.prepared:
            await self.response.prepare(self.request)
            if self.record is not None:
                self.record.first_byte()
        data = b"".join(self.pending)
        self.pending.clear()
        if self.body_log is not None:
            self.body_log.sent(data)
        await self.response.write(data)

    async def ping(self) -> None:
        """Keep-alive during a long silence (e.g. a model reasoning without streaming it), as
        Anthropic's API does; before the first event nothing is sent, so errors keep a status."""
        if self.response.prepared:
            await self.flush()
            await self.response.write(PING)

    @overload
    async def send(self, items: AsyncIterator[AnthropicEvent], raw: Literal[False] = False) -> web.StreamResponse: ...
    @overload
    async def send(self, items: AsyncIterator[bytes], raw: Literal[True]) -> web.StreamResponse: ...
    async def send(self, items: AsyncIterator[Any], raw: bool = False) -> web.StreamResponse:
        """Events, encoded here; or with `raw`, a passthrough provider's SSE bytes as they are."""
        pending, record = self.pending, self.record
        try:
            if raw:
                scanner = record.scanner() if record is not None else None
                async for item in items:
                    pending.append(item)
                    if self.on_usage and b'"message_start"' in item:
                        self.on_usage(passthrough_usage(item))
                    if scanner is not None:
                        scanner.feed(item)
                        if b"event: error" in item and (cut := raw_stream_error(item)):
                            self._ended(*cut)
            else:
                async for event in items:
                    pending.append(encode_event(event))
                    kind = event["type"]
                    if kind == "message_delta" and self.on_usage:
                        self.on_usage(event.get("usage"))
                    if record is not None and kind in _RECORDED:
                        if kind == "error":
                            record.answer_ended(*stream_error(event))
                        else:
                            record.observe_event(event)
        except ApiError as exc:
            if not self.started:
                raise
            log.warning("stream_aborted", status=exc.status, message=exc.message[:300])
            self._ended(exc.status, exc)
            pending.append(encode_event(error_body(exc.status, exc.message, exc.error_type)))
        except ConnectionResetError:  # the client went away: leaving closes the upstream call
            log.debug("client_disconnected")
            self._ended(CLIENT_CLOSED, CLIENT_GONE)
            return self.response
        except Exception as exc:
            if not self.started:
                raise
            log.exception("stream_failed")
            self._ended(500, exc)
            pending.append(encode_event(error_body(500, "Internal server error")))
        try:
            if self.before_end is not None:
                await self.before_end()
            await self.flush()
            if not self.response.prepared:
                await self.response.prepare(self.request)
            await self.response.write_eof()
        except ConnectionResetError:
            log.debug("client_disconnected")
            self._ended(CLIENT_CLOSED, CLIENT_GONE)
        return self.response

    def _ended(self, status: int, error: BaseException | str) -> None:
        if self.record is not None:
            self.record.answer_ended(status, error)
