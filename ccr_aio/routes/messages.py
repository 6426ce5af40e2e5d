"""POST /v1/messages and /v1/messages/count_tokens: parse → route → transform → send → stream back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from ..errors import ApiError, error_body
from ..inputs.json_body import parse_json_body
from ..inputs.messages_request import validate_messages_request
from ..logs import get_app_logger
from ..middlewares import REQUEST_ID
from ..pipeline.chain import Prepared, prepare_request, unified_json, unified_stream
from ..pipeline.sse import dumps, encode_event, iter_json_chunks
from ..pipeline.upstream import open_upstream, passthrough_headers, provider_headers
from ..routing.prompt import rewrite_system_prompt
from ..routing.router import Route, decide
from ..state import HTTP, IMAGES, SESSIONS, STATE, TOKENS, Snapshot
from ..transformers._anthropic_response import aggregate_chunks, message_to_events
from ..transformers.base import Context

routes = web.RouteTableDef()
log = structlog.get_logger("ccr_aio.messages")
PING_INTERVAL_S = 15.0
PING = encode_event({"type": "ping"})
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}


async def read_json_object(request: web.Request) -> dict[str, Any]:
    return parse_json_object(await request.read())


def parse_json_object(raw: bytes) -> dict[str, Any]:
    return parse_json_body(raw)


def validate_messages_body(body: dict[str, Any]) -> None:
    validate_messages_request(body)


@routes.post("/v1/messages")
async def create_message(request: web.Request) -> web.StreamResponse:
    snapshot = request.app[STATE].current
    raw = await request.read()
    body = parse_json_object(raw)
    validate_messages_body(body)
    route = await decide(body, request.headers, snapshot, request.app[SESSIONS], request.app[TOKENS], len(raw))
    rewrite_system_prompt(body, snapshot.system_prompt)
    ctx = Context(
        request_id=request[REQUEST_ID],
        provider=route.provider.name,
        model=route.model,
        client_model=body["model"],
        stream=body.get("stream") is True,
        input_tokens=route.token_count or 0,
        session=route.session,
    )
    get_app_logger().info(
        "route", scenario=route.scenario, model=route.label, requested=body["model"],
        tokens=route.token_count, session=route.session, project=route.project,
    )
    if snapshot.settings.router.get("image"):
        from ..agents import (
            image as image_agent,  # imported here: the agent builds on this module
        )
        vision = image_agent.applies(route, snapshot)
        ids = image_agent.prepare(body, request.app[IMAGES]) if vision else None
        if ids:
            return await image_agent.handle(request, snapshot, route, vision, body, ctx, ids)
    prepared = await prepare_request(snapshot.endpoint, route.provider, route.model, body, ctx)
    return await forward(request, snapshot, route, prepared, ctx)


@asynccontextmanager
async def send(
    request: web.Request, snapshot: Snapshot, route: Route, prepared: Prepared, ctx: Context
) -> AsyncIterator[aiohttp.ClientResponse]:
    """POST a prepared request to the route's provider with its credentials and limits."""
    provider, options, settings = route.provider, prepared.options, snapshot.settings
    if prepared.bypass:
        # The provider's own chain entry carries the options (e.g. UseBearer).
        headers = provider.chain[0].auth(passthrough_headers(request.headers, options), provider, ctx)
    else:
        headers = provider_headers(provider, options)
    async with open_upstream(
        request.app[HTTP],
        url=options.url or provider.api_base_url,
        data=dumps(prepared.body).encode(),
        headers=headers,
        provider=provider.name,
        model=route.model,
        stream=ctx.stream,
        timeout_ms=options.timeout_ms or settings.api_timeout_ms,
        proxy=options.proxy or settings.proxy_url,
    ) as upstream:
        yield upstream


async def forward(
    request: web.Request, snapshot: Snapshot, route: Route, prepared: Prepared, ctx: Context
) -> web.StreamResponse:
    async with send(request, snapshot, route, prepared, ctx) as upstream:
        provider = route.provider
        is_sse = upstream.content_type == "text/event-stream"
        sessions = request.app[SESSIONS]
        writer = SseWriter(request, partial(sessions.record_usage, ctx.session)) if ctx.stream else None
        # Pings only between whole events: a passthrough read may end mid-event.
        ping = writer.ping if writer and not prepared.bypass else None
        raw = upstream_bytes(upstream, route, writer.flush if writer else None, ping)
        if prepared.bypass:
            if is_sse and writer:
                return await writer.send(raw, raw=True)
            data = await read_all(raw)
            sessions.record_usage(ctx.session, passthrough_usage(data))
            return web.Response(body=data, status=upstream.status, content_type=upstream.content_type)
        endpoint = snapshot.endpoint
        if writer:
            if is_sse:
                chunks = unified_stream(provider, route.model, iter_json_chunks(raw), ctx)
                events = endpoint.stream_in(chunks, ctx)
            else:
                unified = unified_json(provider, route.model, parse_json(await read_all(raw), route), ctx)
                events = iterate(message_to_events(endpoint.json_in(unified, ctx)))
            return await writer.send(events)
        if is_sse:
            unified = await aggregate_chunks(unified_stream(provider, route.model, iter_json_chunks(raw), ctx))
        else:
            unified = unified_json(provider, route.model, parse_json(await read_all(raw), route), ctx)
        message = endpoint.json_in(unified, ctx)
        sessions.record_usage(ctx.session, message.get("usage"))
        return web.json_response(message, dumps=dumps)


async def upstream_bytes(
    upstream: aiohttp.ClientResponse,
    route: Route,
    before_read: Callable[[], Awaitable[None]] | None = None,
    on_silence: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[bytes]:
    """The provider's body as it arrives; a cut connection becomes an ApiError, so it can be
    told apart from the client going away (which must just stop everything).

    `before_read` runs before each network read: by then the pipeline above has turned the
    previous read into events, so the writer can send them in one write instead of one
    syscall per event. `on_silence` runs every PING_INTERVAL_S the provider stays silent."""
    content = upstream.content
    while True:
        if before_read is not None:
            await before_read()  # writes to the client: its errors are not the provider's
        if on_silence is None:
            data = await _read(content, route)
        else:
            data = await _read_or_ping(content, route, on_silence)
        if not data:
            return
        yield data


async def _read(content: aiohttp.StreamReader, route: Route) -> bytes:
    try:
        return await content.readany()
    except asyncio.TimeoutError:
        raise ApiError(504, f"Provider {route.label} stopped sending (read timeout)") from None
    except aiohttp.ClientError as exc:
        raise ApiError(502, f"Provider {route.label} dropped the connection mid-response: {exc}") from None


async def _read_or_ping(
    content: aiohttp.StreamReader, route: Route, on_silence: Callable[[], Awaitable[None]]
) -> bytes:
    while True:
        try:
            async with asyncio.timeout(PING_INTERVAL_S) as deadline:
                return await _read(content, route)
        except TimeoutError:
            if not deadline.expired():
                raise
        await on_silence()


def passthrough_usage(data: bytes) -> dict[str, Any] | None:
    """The prompt usage of an Anthropic-native answer (a JSON message, or the `message_start`
    event of a stream), for the long-context rule; the bytes are passed on untouched."""
    for line in data.split(b"\n") if b"data:" in data else [data]:
        line = line[5:] if line.startswith(b"data:") else line
        if b'"usage"' not in line:
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        message = message.get("message", message) if isinstance(message, dict) else None
        usage = message.get("usage") if isinstance(message, dict) else None
        return usage if isinstance(usage, dict) else None
    return None


async def read_all(raw: AsyncIterable[bytes]) -> bytes:
    return b"".join([data async for data in raw])


def parse_json(data: bytes, route: Route) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except ValueError:
        raise ApiError(502, f"Provider {route.label} returned invalid JSON: {data[:300]!r}") from None
    if not isinstance(body, dict):
        raise ApiError(502, f"Provider {route.label} returned a non-object JSON body")
    return body


async def iterate(items: list[dict]) -> AsyncIterator[dict]:
    for item in items:
        yield item


class SseWriter:
    """Writes events to the client as the pipeline produces them, one write per upstream read.

    Headers go out with the first flush, so an upstream that fails before producing anything
    still gets a proper HTTP error status instead of a 200 with an error event."""

    def __init__(self, request: web.Request, on_usage: Callable[[dict], None] | None = None) -> None:
        self.request = request
        self.on_usage = on_usage
        self.response = web.StreamResponse(status=200, headers={**SSE_HEADERS, "request-id": request[REQUEST_ID]})
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

    async def send(self, items: AsyncIterator[Any], raw: bool = False) -> web.StreamResponse:
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


@routes.post("/v1/messages/count_tokens")
async def count_tokens(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    validate_messages_request(body, model_required=False)
    return web.json_response({"input_tokens": await request.app[TOKENS].count_async(body)})
