"""One call to a provider and its answer in the client's terms: the one place that reads an
answer in each of the stream/JSON × converted/passthrough combinations.

`exchange` sends a prepared request with the provider's credentials and limits and yields an
`Answer`. The caller picks the form it needs: `events()` (Anthropic events whatever the provider
spoke), `message()` (one Anthropic message, converted answers), or `raw` / `body()` (the
provider's own bytes, for a passthrough answer relayed untouched). The HTTP handler and the
image agent both go through here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import aiohttp
from aiohttp import web

from ..errors import ApiError
from ..jsonutil import dumps_bytes, loads
from ..routing.router import Route
from ..settings import Settings
from ..shapes.anthropic import AnthropicEvent, AnthropicMessage
from ..transformers.base import Context, Transformer
from ..transformers.endpoint.response import aggregate_chunks, message_to_events
from .chain import Prepared, unified_json, unified_stream
from .sse import iter_json_chunks
from .upstream import HTTP, client_error_words, open_upstream, passthrough_headers, provider_headers

PING_INTERVAL_S = 15.0
ReadHook = Callable[[], Awaitable[None]]
T = TypeVar("T")


@dataclass
class Answer:
    """The provider's answer as it arrives (`raw` is read once, by whichever form is used)."""

    upstream: aiohttp.ClientResponse
    raw: AsyncIterator[bytes]
    route: Route
    endpoint: Transformer
    bypass: bool
    ctx: Context

    @property
    def is_sse(self) -> bool:
        return self.upstream.content_type == "text/event-stream"

    async def body(self) -> bytes:
        return await read_all(self.raw)

    async def events(self) -> AsyncIterator[AnthropicEvent]:
        """Anthropic events: converted by the endpoint, or (passthrough) parsed as they come. A
        JSON answer is read here, before the first event, so its errors come before any output."""
        provider, model, ctx = self.route.provider, self.route.model, self.ctx
        if self.is_sse:
            chunks = iter_json_chunks(self.raw)
            # A passthrough provider already speaks Anthropic events.
            if self.bypass:
                return cast(AsyncIterator[AnthropicEvent], chunks)
            return self.endpoint.stream_in(unified_stream(provider, model, chunks, ctx), ctx)
        answer = parse_json(await read_all(self.raw), self.route)
        if self.bypass:  # an Anthropic message already
            return iterate(message_to_events(cast(AnthropicMessage, answer)))
        return iterate(message_to_events(self.endpoint.json_in(unified_json(provider, model, answer, ctx), ctx)))

    async def message(self) -> AnthropicMessage:
        """One Anthropic message from a converted answer; a stream is folded into one first."""
        provider, model, ctx = self.route.provider, self.route.model, self.ctx
        if self.is_sse:
            unified = await aggregate_chunks(unified_stream(provider, model, iter_json_chunks(self.raw), ctx))
        else:
            unified = unified_json(provider, model, parse_json(await read_all(self.raw), self.route), ctx)
        return self.endpoint.json_in(unified, ctx)


@asynccontextmanager
async def exchange(
    request: web.Request,
    settings: Settings,
    endpoint: Transformer,
    route: Route,
    prepared: Prepared,
    ctx: Context,
    before_read: ReadHook | None = None,
    on_silence: ReadHook | None = None,
) -> AsyncIterator[Answer]:
    """POST `prepared` to the route's provider; leaving the block closes the upstream call.

    `request` is the client's: its app holds the connection pool, and a passthrough call
    forwards its headers. For `before_read` and `on_silence` see `upstream_bytes`."""
    provider, options = route.provider, prepared.options
    if prepared.bypass:
        # The provider's own chain entry carries the options (e.g. UseBearer).
        headers = provider.chain[0].auth(passthrough_headers(request.headers, options), provider, ctx)
    else:
        headers = provider_headers(provider, options)
    async with open_upstream(
        request.app[HTTP],
        url=options.url or provider.api_base_url,
        data=dumps_bytes(prepared.body),
        headers=headers,
        provider=provider.name,
        model=route.model,
        stream=ctx.stream,
        timeout_ms=options.timeout_ms or settings.api_timeout_ms,
        proxy=options.proxy or settings.proxy_url,
    ) as upstream:
        raw = upstream_bytes(upstream, route, before_read, on_silence)
        yield Answer(upstream, raw, route, endpoint, prepared.bypass, ctx)


async def upstream_bytes(
    upstream: aiohttp.ClientResponse,
    route: Route,
    before_read: ReadHook | None = None,
    on_silence: ReadHook | None = None,
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
        words = client_error_words(exc)
        raise ApiError(502, f"Provider {route.label} dropped the connection mid-response: {words}") from None


async def _read_or_ping(content: aiohttp.StreamReader, route: Route, on_silence: ReadHook) -> bytes:
    while True:
        try:
            async with asyncio.timeout(PING_INTERVAL_S) as deadline:
                return await _read(content, route)
        except TimeoutError:
            if not deadline.expired():
                raise
        await on_silence()


async def read_all(raw: AsyncIterable[bytes]) -> bytes:
    return b"".join([data async for data in raw])


def parse_json(data: bytes, route: Route) -> dict[str, Any]:
    try:
        body = loads(data)
    except ValueError:
        raise ApiError(502, f"Provider {route.label} returned invalid JSON: {data[:300]!r}") from None
    if not isinstance(body, dict):
        raise ApiError(502, f"Provider {route.label} returned a non-object JSON body")
    return body


async def iterate(items: list[T]) -> AsyncIterator[T]:
    for item in items:
        yield item


def passthrough_usage(data: bytes) -> dict[str, Any] | None:
    """The prompt usage of an Anthropic-native answer (a JSON message, or the `message_start`
    event of a stream), for the long-context rule; the bytes are passed on untouched."""
    for line in data.split(b"\n") if b"data:" in data else [data]:
        line = line[5:] if line.startswith(b"data:") else line
        if b'"usage"' not in line:
            continue
        try:
            message = loads(line)
        except ValueError:
            continue
        message = message.get("message", message) if isinstance(message, dict) else None
        usage = message.get("usage") if isinstance(message, dict) else None
        return usage if isinstance(usage, dict) else None
    return None
