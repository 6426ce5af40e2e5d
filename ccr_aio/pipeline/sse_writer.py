"""Anthropic events (or passthrough SSE bytes) → the client's streaming HTTP response."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Literal, overload

import structlog
from aiohttp import web

from ..errors import ApiError, error_body
from ..shapes.anthropic import AnthropicEvent
from .exchange import passthrough_usage
from .sse import encode_event

# The stream's events keep the logger name they had when this lived with the route handler.
log = structlog.get_logger("ccr_aio.messages")
UsageHook = Callable[[Mapping[str, Any] | None], None]  # an answer's usage (Anthropic counts), or None
PING = encode_event({"type": "ping"})
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
    still gets a proper HTTP error status instead of a 200 with an error event."""

    def __init__(
        self, request: web.Request, request_id: str, on_usage: UsageHook | None = None
    ) -> None:
        self.request = request
        self.on_usage = on_usage
        self.response: web.StreamResponse = _SseResponse(status=200, headers={**SSE_HEADERS, "request-id": request_id})
        self.pending: list[bytes] = []

    @property
    def started(self) -> bool:
        return self.response.prepared or bool(self.pending)

    async def flush(self) -> None:
        if not self.pending:
            return
        if not self.response.prepared:
            await self.response.prepare(self.request)
        data = b"".join(self.pending)
        self.pending.clear()
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
        pending = self.pending
        try:
            if raw:
                async for item in items:
                    pending.append(item)
                    if self.on_usage and b'"message_start"' in item:
                        self.on_usage(passthrough_usage(item))
            else:
                async for event in items:
                    pending.append(encode_event(event))
                    if event["type"] == "message_delta" and self.on_usage:
                        self.on_usage(event.get("usage"))
        except ApiError as exc:
            if not self.started:
                raise
            log.warning("stream_aborted", status=exc.status, message=exc.message[:300])
            pending.append(encode_event(error_body(exc.status, exc.message, exc.error_type)))
        except ConnectionResetError:  # the client went away: leaving closes the upstream call
            log.debug("client_disconnected")
            return self.response
        except Exception:
            if not self.started:
                raise
            log.exception("stream_failed")
            pending.append(encode_event(error_body(500, "Internal server error")))
        try:
            await self.flush()
            if not self.response.prepared:
                await self.response.prepare(self.request)
            await self.response.write_eof()
        except ConnectionResetError:
            log.debug("client_disconnected")
        return self.response
