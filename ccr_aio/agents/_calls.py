"""One upstream call made on the agent's behalf, through the same pipeline as a client request.

`open_events` yields the answer as Anthropic events whatever the provider speaks (stream or
JSON, converted or passthrough); `fetch_message` returns it as one Anthropic message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from aiohttp import web

from ..pipeline.exchange import ReadHook, exchange
from ..routing.router import Route
from ..shapes.anthropic import AnthropicEvent, AnthropicMessage, AnthropicRequest
from ..state import Snapshot
from ..transformers.base import Context
from ._turn import Turn


@asynccontextmanager
async def open_events(
    request: web.Request,
    snapshot: Snapshot,
    route: Route,
    body: dict[str, Any],
    ctx: Context,
    before_read: ReadHook | None = None,
    on_silence: ReadHook | None = None,
) -> AsyncIterator[AsyncIterator[AnthropicEvent]]:
    # `body` is the client's request as the agent rewrote it: its JSON object is the Anthropic one.
    request_body = cast(AnthropicRequest, body)
    async with exchange(request, snapshot.upstreams, route, request_body, ctx, before_read, on_silence) as answer:
        yield await answer.events()


async def fetch_message(
    request: web.Request, snapshot: Snapshot, route: Route, body: dict[str, Any], ctx: Context
) -> AnthropicMessage:
    """The whole answer as an Anthropic message (an upstream error event raises ApiError)."""
    turn = Turn()
    async with open_events(request, snapshot, route, body, ctx) as events:
        async for event in events:
            turn.add(event)
    return turn.message()
