"""Memory for request bodies in flight: one budget for the whole process.

A body is not held once: while a request is handled it exists as its bytes, as parsed JSON, as
the provider's format and as the serialized upstream body, so a 50 MB body costs a few hundred
MB, and a few of them at once could take the machine's memory. Each request reserves what its
body will cost from the budget (`BODY_BUDGET_MB`) and gives it back when its handler is done
(the parsed body lives that long). A reservation that does not fit waits, first come first
served, up to `BODY_BUDGET_WAIT_MS`, then the request gets 529 overloaded_error with Retry-After
(clients retry it); one that could never fit, 413.

The cost: `MEMORY_PER_BODY_BYTE` × the size, reserved from the Content-Length before anything
is read (a chunked body reserves as its bytes arrive), plus, once the bytes are in, what their
JSON containers will take as Python objects (`MEMORY_PER_CONTAINER` each): 50 MB of small
objects parse into ten times their size, 50 MB of text or base64 into about their size.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque

from aiohttp import web
from aiohttp.typedefs import Handler

from ..config import ServerLimits
from ..config.model import MIB
from ..errors import ApiError, error_body
from ..state import STATE

MAX_BODY_BYTES = 64 * 1024 * 1024  # Claude Code sends MBs once screenshots pile up
# Measured on 50 MB bodies, once the avoidable copies were gone: the peak is the bytes (dropped
# once parsed), or the parsed, converted and serialized (str, then bytes) forms at once: ~4× the
# size for text- or image-heavy bodies; each JSON object or array adds ~400 bytes (a dict or
# list with its small strings, parsed and converted).
MEMORY_PER_BODY_BYTE = 4
MEMORY_PER_CONTAINER = 400
RETRY_AFTER_S = 2


class Busy(Exception):
    """The budget stayed full for the whole wait."""


class BodyBudget:
    """A byte budget shared by every request, handed out in arrival order."""

    def __init__(self) -> None:
        self.used = 0
        self.waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    async def take(self, cost: int, limits: ServerLimits, held: int = 0) -> None:
        """Reserve `cost` more bytes for a request that holds `held`, waiting up to the
        configured time (Busy), or 413 when the total can never fit."""
        if held + cost > limits.body_budget:
            raise ApiError(
                413,
                f"Request body too large: handling it would take about {math.ceil((held + cost) / MIB)} MB of "
                f"memory, more than the budget for request bodies (BODY_BUDGET_MB: {limits.body_budget / MIB:g})",
            )
        # A request that already holds a part goes first: those in line may be waiting for
        # exactly what it holds, which it only gives back once it has the rest.
        if (held or not self.waiting) and self.used + cost <= limits.body_budget:
            self.used += cost
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if held:
            self.waiting.appendleft((cost, granted))
        else:
            self.waiting.append((cost, granted))
        try:
            async with asyncio.timeout(limits.body_wait):
                await granted  # `wake` counts `cost` in `used` when it grants it
        except BaseException as exc:
            if granted.done() and not granted.cancelled():
                self.give_back(cost, limits)  # granted just as the wait ended
            else:
                granted.cancel()  # `wake` skips it; those behind may fit now
                self.wake(limits)
            if isinstance(exc, TimeoutError):
                raise Busy() from None
            raise

    def give_back(self, cost: int, limits: ServerLimits) -> None:
        self.used -= cost
        self.wake(limits)

    def wake(self, limits: ServerLimits) -> None:
        while self.waiting:
            cost, granted = self.waiting[0]
            if not granted.done() and self.used + cost > limits.body_budget:
                return
            self.waiting.popleft()
            if not granted.done():  # a wait that ended (timeout, client gone) is not served
                self.used += cost
                granted.set_result(None)


class Reservation:
    """What one request holds of the budget."""

    def __init__(self, budget: BodyBudget, limits: ServerLimits) -> None:
        self.budget = budget
        self.limits = limits
        self.cost = 0

    async def add(self, cost: int) -> None:
        if cost > 0:
            await self.budget.take(cost, self.limits, self.cost)
            self.cost += cost

    async def add_body(self, body_bytes: int) -> None:
        await self.add(body_bytes * MEMORY_PER_BODY_BYTE)

    async def add_parse(self, raw: bytes | bytearray) -> None:
        """What parsing `raw` will add (a C-speed scan; a brace inside a string counts too).
        One pass that drops every other byte costs a third less than two counts."""
        containers = len(raw) - len(raw.translate(None, b"{["))
        await self.add(containers * MEMORY_PER_CONTAINER)

    def release(self) -> None:
        if self.cost:
            self.budget.give_back(self.cost, self.limits)
            self.cost = 0


BODY_BUDGET = web.AppKey("body_budget", BodyBudget)
RESERVATION = web.RequestKey("body_reservation", Reservation)


def _busy() -> web.Response:
    message = "The server is busy with other large request bodies; retry shortly"
    return web.json_response(error_body(529, message), status=529, headers={"Retry-After": str(RETRY_AFTER_S)})


@web.middleware
async def body_budget_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.body_exists:
        return await handler(request)
    size = request.content_length
    if size is not None and size > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=size)
    reservation = Reservation(request.app[BODY_BUDGET], request.app[STATE].current.settings.config.limits)
    request[RESERVATION] = reservation
    try:
        if size:
            await reservation.add_body(size)
        return await handler(request)
    except Busy:
        return _busy()
    finally:
        reservation.release()
