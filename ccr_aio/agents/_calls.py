"""One upstream call made on the agent's behalf, through the same pipeline as a client request.

`open_events` yields the answer as Anthropic events whatever the provider speaks (stream or
JSON, converted or passthrough); `fetch_message` returns it as one Anthropic message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from ..pipeline.chain import prepare_request, unified_json, unified_stream
from ..pipeline.sse import iter_json_chunks
from ..routes.messages import iterate, parse_json, read_all, send, upstream_bytes
from ..routing.router import Route
from ..state import Snapshot
from ..transformers._anthropic_response import message_to_events
from ..transformers.base import Context
from ._turn import Turn


@asynccontextmanager
async def open_events(
    request: web.Request,
    snapshot: Snapshot,
    route: Route,
    body: dict[str, Any],
    ctx: Context,
    before_read: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    provider, endpoint = route.provider, snapshot.endpoint
    prepared = await prepare_request(endpoint, provider, route.model, body, ctx)
    async with send(request, snapshot, route, prepared, ctx) as upstream:
        raw = upstream_bytes(upstream, route, before_read)
        if upstream.content_type == "text/event-stream":
            chunks = iter_json_chunks(raw)
            # A passthrough provider already speaks Anthropic events.
            yield chunks if prepared.bypass else endpoint.stream_in(unified_stream(provider, route.model, chunks, ctx), ctx)
            return
        answer = parse_json(await read_all(raw), route)
        if not prepared.bypass:
            answer = endpoint.json_in(unified_json(provider, route.model, answer, ctx), ctx)
        yield iterate(message_to_events(answer))


async def fetch_message(
    request: web.Request, snapshot: Snapshot, route: Route, body: dict[str, Any], ctx: Context
) -> dict[str, Any]:
    """The whole answer as an Anthropic message (an upstream error event raises ApiError)."""
    turn = Turn()
    async with open_events(request, snapshot, route, body, ctx) as events:
        async for event in events:
            turn.add(event)
    return turn.message()
