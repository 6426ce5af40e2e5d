"""Requests in flight, and how a shutdown ends the ones that do not finish in time.

aiohttp's own graceful shutdown waits its timeout, then only fails the request *body* reader,
which a streaming handler waiting on its upstream never touches, then waits the timeout again:
twice the grace, and the client sees a broken connection. Instead the server waits for the
requests tracked here, and at its deadline cancels them itself; this middleware turns that
cancellation into an answer the client understands: an SSE stream already under way gets an
`error` event (`overloaded_error`, never a `message_stop`, so it cannot look complete) and a
proper end; a request with no answer yet gets a 529 in the error shape, which clients retry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from .errors import error_body
from .pipeline.sse import encode_event

SHUTTING_DOWN = "The server is shutting down; retry the request"
log = structlog.get_logger("ccr_aio.drain")


class Inflight:
    """The handler tasks of the requests being answered, and the ones cut at shutdown."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self.cut: set[asyncio.Task[Any]] = set()
        self.finished = 0  # requests answered so far (the idle memory trim looks at it)
        self._changed: asyncio.Event | None = None

    def enter(self, task: asyncio.Task[Any]) -> None:
        self.tasks.add(task)

    def leave(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        self.finished += 1
        if self._changed is not None:
            self._changed.set()

    async def wait_empty(self, deadline: float) -> bool:
        """True once no request is in flight; False at `deadline` (event-loop time)."""
        loop = asyncio.get_running_loop()
        while self.tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._changed = asyncio.Event()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return not self.tasks
        return True

    def cut_all(self) -> int:
        """Cancel every request still in flight; the middleware answers for each."""
        for task in self.tasks:
            if not task.done():
                self.cut.add(task)
                task.cancel()
        return len(self.cut)


INFLIGHT = web.AppKey("inflight", Inflight)
_RESPONSE = web.RequestKey("prepared_response", web.StreamResponse)


async def remember_response(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: where a cut stream's error event has to go."""
    request[_RESPONSE] = response


@web.middleware
async def inflight_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    inflight = request.app[INFLIGHT]
    task = asyncio.current_task()
    assert task is not None
    inflight.enter(task)
    try:
        return await handler(request)
    except asyncio.CancelledError:
        response = request.get(_RESPONSE)
        if task not in inflight.cut or (response is not None and not _is_stream(response)):
            raise  # the client left, or a plain answer is half sent: only a broken connection is honest
        task.uncancel()
        return await _answer_cut(request, response)
    finally:
        inflight.leave(task)
        inflight.cut.discard(task)


def _is_stream(response: web.StreamResponse) -> bool:
    return response.content_type == "text/event-stream"


async def _answer_cut(request: web.Request, response: web.StreamResponse | None) -> web.StreamResponse:
    log.info("request_cut_at_shutdown", path=request.path, streaming=response is not None)
    if response is None:
        return web.json_response(error_body(529, SHUTTING_DOWN, "overloaded_error"), status=529)
    try:
        await response.write(encode_event(error_body(529, SHUTTING_DOWN, "overloaded_error")))
        await response.write_eof()
    except (ConnectionError, RuntimeError):  # gone meanwhile, or already ended
        pass
    return response


def setup(app: web.Application) -> None:
    app[INFLIGHT] = Inflight()
    app.on_response_prepare.append(remember_response)
