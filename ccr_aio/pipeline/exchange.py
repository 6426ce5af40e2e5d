"""One call to a provider and its answer in the client's terms: the one place that reads an
answer in each of the stream/JSON × converted/passthrough combinations.

`exchange` prepares and sends a request with the provider's credentials and limits, trying the
route's other keys and fallback targets when a provider fails before its answer is used, and
yields an `Answer`. The caller picks the form it needs: `events()` (Anthropic events whatever the provider
spoke), `message()` (one Anthropic message, converted answers), or `raw` / `body()` (the
provider's own bytes, for a passthrough answer relayed untouched). The HTTP handler and the
image agent both go through here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

import aiohttp
from aiohttp import web

from ..errors import ApiError
from ..jsonutil import dumps_bytes, loads
from ..resilience import Attempts, Outcome, Target
from ..routing.router import Route
from ..routing.tokens import TOKENS
from ..routing.window import fit_to_model
from ..shapes.anthropic import AnthropicEvent, AnthropicMessage, AnthropicRequest
from ..transformers.base import Context, Transformer, UpstreamOptions
from ..transformers.endpoint.mappings import ended_early
from ..transformers.endpoint.response import aggregate_chunks, message_to_events
from .chain import prepare_request, unified_json, unified_stream
from .chunk_shape import chunk_check
from .fallback import RESILIENCE, Upstreams, attempt_route, log_attempt, note_route, plan_attempts
from .record_hooks import provider_call
from .sse import MAX_LINE_BYTES, iter_json_chunks
from .upstream import (
    HTTP, UpstreamFailed, client_error_words, close_upstream, passthrough_headers, post_upstream,
    provider_headers,
)

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
    max_line: int = MAX_LINE_BYTES  # the most an unfinished SSE line, or a JSON answer, may hold

    @property
    def is_sse(self) -> bool:
        return self.upstream.content_type == "text/event-stream"

    async def body(self) -> bytes:
        return await read_all(self.raw, self.max_line, self.route)

    def chunks(self) -> AsyncIterator[dict[str, Any]]:
        """The SSE answer's JSON chunks; a converted provider's are shape-checked as they come."""
        check = None if self.bypass else chunk_check(self.route.label)
        return iter_json_chunks(self.raw, self.max_line, f"Provider {self.route.label}", check)

    async def events(self) -> AsyncIterator[AnthropicEvent]:
        """Anthropic events: converted by the endpoint, or (passthrough) parsed as they come. A
        JSON answer is read here, before the first event, so its errors come before any output."""
        provider, model, ctx = self.route.provider, self.route.model, self.ctx
        if self.is_sse:
            chunks = self.chunks()
            # A passthrough provider already speaks Anthropic events.
            if self.bypass:
                return cast(AsyncIterator[AnthropicEvent], chunks)
            return self.endpoint.stream_in(unified_stream(provider, model, chunks, ctx), ctx)
        answer = parse_json(await self.body(), self.route)
        if self.bypass:  # an Anthropic message already
            return iterate(message_to_events(cast(AnthropicMessage, answer)))
        return iterate(message_to_events(self.endpoint.json_in(unified_json(provider, model, answer, ctx), ctx)))

    async def message(self) -> AnthropicMessage:
        """One Anthropic message from a converted answer; a stream is folded into one first."""
        provider, model, ctx = self.route.provider, self.route.model, self.ctx
        if self.is_sse:
            chunks = self.chunks()
            unified = await aggregate_chunks(unified_stream(provider, model, chunks, ctx), self.route.label)
        else:
            unified = unified_json(provider, model, parse_json(await self.body(), self.route), ctx)
        return self.endpoint.json_in(unified, ctx)


@dataclass(frozen=True)
class Outgoing:
    """A prepared request as it is sent: its bytes, and how."""

    data: bytes
    options: UpstreamOptions
    bypass: bool


@asynccontextmanager
async def exchange(
    request: web.Request,
    upstreams: Upstreams,
    route: Route,
    body: AnthropicRequest,
    ctx: Context,
    before_read: ReadHook | None = None,
    on_silence: ReadHook | None = None,
) -> AsyncIterator[Answer]:
    """Send `body` for `route`, falling back along its key pool and `fallback` list, and yield
    the first answer that got going; leaving the block closes the upstream call.

    Each attempt fits the body to its own model's window and longest answer (a fallback model
    whose window the prompt does not fit is passed over; the routed model's "prompt is too
    long" is raised as it is), prepares it for its provider and model, posts it, and waits for
    the first chunk of the answer: only then is the answer committed to, so a provider that fails
    before anything reaches the client is replaced by the next attempt (as far as the retry
    rules of `resilience.classify` allow). Once committed, a failure is the caller's to show.
    When every attempt failed, the last provider's error is raised (`AttemptsFailed`).

    `request` is the client's: its app holds the connection pool and the health store, and a
    passthrough call forwards its headers. `on_silence` runs every PING_INTERVAL_S the provider
    stays silent, between whole events only (so never for a passthrough, whose reads may end
    mid-event); `before_read` runs before each network read (see `upstream_bytes`)."""
    resilience = request.app[RESILIENCE]
    attempts = await plan_attempts(route, upstreams, resilience)
    chosen = Target(route.provider.name, route.model)
    tried: Target | None = None
    opened: tuple[aiohttp.ClientResponse, bytes] | None = None
    too_long: ApiError | None = None
    try:
        for attempt in attempts:
            call = attempt_route(attempt, route, upstreams)
            try:
                fitted = await fit_to_model(body, call.provider.capabilities(call.model), request.app[TOKENS], call.label)
            except ApiError as exc:
                # The routed model's refusal is the answer (Claude Code compacts on its words);
                # a fallback model too small for this prompt is passed over.
                if attempt.target == chosen:
                    raise
                too_long = exc
                continue
            tried = attempt.target
            call_ctx = ctx if call is route else replace(ctx, provider=call.provider.name, model=call.model)
            outgoing = await _outgoing(upstreams, call, fitted, call_ctx)
            silence = None if outgoing.bypass else on_silence
            record = provider_call(request, call)  # the request's record notes every try
            try:
                opened = await _open(request, upstreams, call, outgoing, call_ctx, attempts, before_read, silence)
            except UpstreamFailed as exc:
                if record is not None:
                    record.attempt_failed(exc.status)
                await attempts.failed(attempt, exc.outcome, exc, exc.response_headers)
                log_attempt(attempts.history[-1], len(attempts.history), None)
                continue
            await attempts.succeeded(attempt)
            log_attempt(attempts.history[-1], len(attempts.history), opened[0].status)
            break
    finally:
        note_route(request, attempts, tried)
    if opened is None:
        raise too_long if too_long is not None and not attempts.history else attempts.final_error()
    upstream, first = opened
    try:
        raw = upstream_bytes(upstream, call, before_read, silence, first)
        limits = upstreams.settings.config.limits
        bypass = outgoing.bypass
        del outgoing  # sent: its bytes need not stay in memory while the answer streams
        yield Answer(upstream, raw, call, upstreams.endpoint, bypass, call_ctx, limits.upstream_line)
    finally:
        close_upstream(upstream)


async def _outgoing(upstreams: Upstreams, call: Route, body: AnthropicRequest, ctx: Context) -> Outgoing:
    """The request for `call`'s provider and model, as bytes. Only the bytes are kept: the
    converted body (as big as the client's, in objects) would otherwise stay in memory for as
    long as the answer streams."""
    prepared = await prepare_request(upstreams.endpoint, call.provider, call.model, body, ctx)
    await asyncio.sleep(0)  # other requests get a turn between converting and serializing
    return Outgoing(dumps_bytes(prepared.body), prepared.options, prepared.bypass)


async def _open(
    request: web.Request,
    upstreams: Upstreams,
    route: Route,
    outgoing: Outgoing,
    ctx: Context,
    attempts: Attempts,
    before_read: ReadHook | None,
    on_silence: ReadHook | None,
) -> tuple[aiohttp.ClientResponse, bytes]:
    """One attempt: post, then wait for the first chunk of the answer. UpstreamFailed when it
    failed before that; the response is closed then."""
    provider, options, settings = route.provider, outgoing.options, upstreams.settings
    if outgoing.bypass:
        # The provider's own chain entry carries the options (e.g. UseBearer).
        headers = provider.chain[0].auth(passthrough_headers(request.headers, options), provider, ctx)
    else:
        headers = provider_headers(provider, options)
    timeout_ms = options.timeout_ms or settings.api_timeout_ms
    if attempts.history:  # a retry only gets what is left of the request's time budget
        timeout_ms = max(1, min(timeout_ms, int(attempts.remaining_s() * 1000)))
    upstream = await post_upstream(
        request.app[HTTP],
        url=options.url or provider.api_base_url,
        data=outgoing.data,
        headers=headers,
        provider=provider.name,
        model=route.model,
        stream=ctx.stream,
        timeout_ms=timeout_ms,
        proxy=options.proxy or settings.proxy_url,
        error_limit=settings.config.limits.upstream_error,
    )
    try:
        if before_read is not None:
            await before_read()
        first = await (_read(upstream.content, route) if on_silence is None
                       else _read_or_ping(upstream.content, route, on_silence))
        if not first:  # a clean end before any of the answer: nothing was used, so it may fall back
            raise UpstreamFailed(502, _empty_answer(upstream, route), Outcome.failed("empty_answer"))
    except BaseException:
        close_upstream(upstream)
        raise
    return upstream, first


def _empty_answer(upstream: aiohttp.ClientResponse, route: Route) -> str:
    if upstream.content_type == "text/event-stream":
        return ended_early(route.provider.name, route.model)
    return f"Provider {route.label} sent an empty answer"


async def upstream_bytes(
    upstream: aiohttp.ClientResponse,
    route: Route,
    before_read: ReadHook | None = None,
    on_silence: ReadHook | None = None,
    first: bytes = b"",
) -> AsyncIterator[bytes]:
    """The provider's body as it arrives (after `first`, what was read before committing to
    it); a cut connection becomes an ApiError, so it can be told apart from the client going
    away (which must just stop everything).

    `before_read` runs before each network read: by then the pipeline above has turned the
    previous read into events, so the writer can send them in one write instead of one
    syscall per event. `on_silence` runs every PING_INTERVAL_S the provider stays silent."""
    if first:
        yield first
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
    """One read; the error says how it failed, which decides a retry when nothing of the
    answer was used yet."""
    try:
        return await content.readany()
    except asyncio.TimeoutError:
        raise UpstreamFailed(504, f"Provider {route.label} stopped sending (read timeout)",
                             Outcome.failed("timeout_before_first_byte")) from None
    except aiohttp.ClientError as exc:
        words = client_error_words(exc)
        raise UpstreamFailed(502, f"Provider {route.label} dropped the connection mid-response: {words}",
                             Outcome.failed("connection_reset")) from None


async def _read_or_ping(content: aiohttp.StreamReader, route: Route, on_silence: ReadHook) -> bytes:
    while True:
        try:
            async with asyncio.timeout(PING_INTERVAL_S) as deadline:
                return await _read(content, route)
        except TimeoutError:
            if not deadline.expired():
                raise
        await on_silence()


async def read_all(raw: AsyncIterable[bytes], limit: int, route: Route) -> bytes:
    """A whole (JSON) answer, refused past `limit` bytes rather than held in memory."""
    parts: list[bytes] = []
    size = 0
    async for data in raw:
        size += len(data)
        if size > limit:
            raise ApiError(502, f"Provider {route.label} sent an answer over {limit} bytes: the answer was abandoned")
        parts.append(data)
    return b"".join(parts)


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
