"""The image agent: a text-only main model works with images through a tool.

When `Router.image` is set and the request is not already going to that model, every image
in the conversation becomes a `[Image #<id>]` placeholder (the source is kept in the app's
`ImageCache`, the id is a hash of the image), the main model gets an `analyzeImage` tool and a
system note, and the server answers the tool itself by asking the image model. The client
sees one ordinary answer:

- Streaming: the main model's events go to the client as they arrive, except analyzeImage
  blocks. If the round ends with stop_reason tool_use and every tool call was analyzeImage,
  its message_delta/message_stop are held back, the calls are answered, and a continuation
  request (body + the assistant turn + the tool_results) streams on as the same message: no
  second message_start, block indices continue, one final message_delta (output tokens summed).
- A round that mixes analyzeImage with client tools is forwarded without the analyzeImage
  calls (Claude Code would answer an unknown tool with an error): the client runs its tools
  and the model, which never sees the dropped calls in its history, can ask again next turn.
- At most MAX_ROUNDS analyzeImage rounds per client request; past that the calls are dropped.
- Non-streaming requests run the same loop on whole messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from functools import partial
from typing import Any

import structlog
from aiohttp import web

from ..errors import ApiError
from ..logs import get_app_logger
from ..pipeline.record_hooks import json_answer
from ..pipeline.sse_writer import SseWriter
from ..routing.router import Route, resolve
from ..routing.sessions import SESSIONS
from ..shapes.anthropic import (
    AnthropicEvent,
    AnthropicMessage,
    BlockEvent,
    ContentBlock,
    MessageDeltaEvent,
    PingEvent,
)
from ..state import Snapshot
from ..transformers.base import Context
from ._calls import fetch_message, open_events
from ._image_tool import ANALYZE_TOOL, SYSTEM_NOTE, TOOL_NAME, Analyst, placeholder
from ._turn import Turn
from .image_cache import IMAGES, ImageCache

MAX_ROUNDS = 3
PING_INTERVAL_S = 10.0  # keep the client's stream alive while the image model works
log = structlog.get_logger("ccr_aio.agents.image")
GAVE_UP = "(I could not finish looking at the image(s); please ask again.)"


def applies(route: Route, snapshot: Snapshot) -> Route | None:
    """The image model's route when the agent should run for this route, else None."""
    pair = snapshot.settings.config.router.image
    if not pair or route.scenario == "image":
        return None
    try:
        provider, model = resolve(snapshot.providers, pair, "image")
    except ApiError as exc:  # a bad Router.image must not fail requests that carry no image
        log.warning("image_agent_disabled", error=exc.message)
        return None
    if provider is route.provider and model == route.model:
        return None  # the main model is the image model: it sees the images itself
    return Route(provider, model, "imageAgent", session=route.session, project=route.project)


def _image_text(block: dict[str, Any], cache: ImageCache, ids: list[str]) -> dict[str, Any]:
    image_id = cache.put(block["source"])
    if image_id not in ids:
        ids.append(image_id)
    text: dict[str, Any] = {"type": "text", "text": placeholder(image_id)}
    if "cache_control" in block:  # keep Claude Code's prompt-cache breakpoints where they were
        text["cache_control"] = block["cache_control"]
    return text


def _without_images(blocks: list[Any], cache: ImageCache, ids: list[str]) -> list[Any] | None:
    """`blocks` with images (also inside tool_result) replaced, or None when there are none."""
    out: list[Any] | None = None
    for i, block in enumerate(blocks):
        new = block
        if isinstance(block, dict):
            if block.get("type") == "image" and isinstance(block.get("source"), dict):
                new = _image_text(block, cache, ids)
            elif block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                inner = _without_images(block["content"], cache, ids)
                if inner is not None:
                    new = {**block, "content": inner}
        if new is not block and out is None:
            out = list(blocks[:i])
        if out is not None:
            out.append(new)
    return out


def prepare(body: dict[str, Any], cache: ImageCache) -> list[str]:
    """Placeholders, the tool and the system note when the conversation holds images. Returns
    the image ids in order of appearance: empty (falsy) means the agent does not apply and the
    body is untouched."""
    ids: list[str] = []
    messages = body.get("messages") or []
    rewritten: list[Any] | None = None
    for i, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), list):
            content = _without_images(message["content"], cache, ids)
            if content is not None:
                rewritten = rewritten or list(messages)
                rewritten[i] = {**message, "content": content}
    if rewritten is None:
        return []
    body["messages"] = rewritten
    tools = body.get("tools")
    if not isinstance(tools, list):
        tools = []
    if not any(isinstance(t, dict) and t.get("name") == TOOL_NAME for t in tools):
        body["tools"] = [*tools, ANALYZE_TOOL]
    note = {"type": "text", "text": SYSTEM_NOTE}
    system = body.get("system")
    if isinstance(system, list):
        body["system"] = [*system, note]
    elif isinstance(system, str) and system:
        body["system"] = [{"type": "text", "text": system}, note]
    else:
        body["system"] = [note]
    return ids


async def handle(
    request: web.Request, snapshot: Snapshot, route: Route, vision: Route,
    body: dict[str, Any], ctx: Context, ids: list[str],
) -> web.StreamResponse:
    await request.app[IMAGES].flush()  # this request's images are visible to every worker
    analyst = Analyst(request, snapshot, vision, ctx, request.app[IMAGES], tuple(ids))
    get_app_logger().info("image_agent", model=route.label, image_model=vision.label, images=len(ids))
    sessions = request.app[SESSIONS]
    record_usage, settled = partial(sessions.record_usage, ctx.session), partial(sessions.settled, ctx.session)
    if ctx.stream:
        writer = SseWriter(request, ctx.request_id, record_usage, settled)
        return await writer.send(_stream(analyst, route, body, writer))
    message = await _answer(analyst, route, body)
    record_usage(message.get("usage"))
    await settled()
    return json_answer(request, message)


def _intercept(turn_calls: Sequence[Mapping[str, Any]], stop_reason: Any, round_no: int) -> bool:
    """Answer this round ourselves: it asked for analyzeImage only, and rounds are left."""
    return (
        stop_reason == "tool_use" and round_no < MAX_ROUNDS and bool(turn_calls)
        and all(call.get("name") == TOOL_NAME for call in turn_calls)
    )


def _final_stop(stop_reason: Any, calls: Sequence[Mapping[str, Any]]) -> Any:
    """Dropped analyzeImage calls must not leave Claude Code waiting for tool results."""
    dropped = any(call.get("name") == TOOL_NAME for call in calls)
    kept = any(call.get("name") != TOOL_NAME for call in calls)
    return "end_turn" if stop_reason == "tool_use" and dropped and not kept else stop_reason


async def _answer_with_pings(
    analyst: Analyst, calls: Sequence[Mapping[str, Any]], writer: SseWriter
) -> AsyncGenerator[PingEvent | list[dict[str, Any]], None]:
    """Yield pings while the image model works, then the tool_result list (last item)."""
    task = asyncio.ensure_future(analyst.answer(calls))
    try:
        while not task.done():
            await writer.flush()
            await asyncio.wait({task}, timeout=PING_INTERVAL_S)
            if not task.done():
                yield {"type": "ping"}
        yield task.result()
    finally:
        task.cancel()


async def _stream(
    analyst: Analyst, route: Route, body: dict[str, Any], writer: SseWriter
) -> AsyncIterator[AnthropicEvent]:
    messages = list(body["messages"])
    next_index = 0  # the client's next block index, across rounds
    output_tokens = 0
    started = False
    for round_no in range(MAX_ROUNDS + 1):
        turn = Turn()
        shown: dict[int, int] = {}  # upstream block index → client index
        final: MessageDeltaEvent | None = None
        # Pings while the main model is silent: a continuation round may wait for its first
        # chunk (or a fallback) long after the client's stream has started.
        async with open_events(analyst.request, analyst.snapshot, route, {**body, "messages": messages},
                               analyst.ctx, writer.flush, writer.ping) as events:
            async for event in events:
                turn.add(event)
                if event["type"] == "content_block_delta" or event["type"] == "content_block_stop":
                    index = shown.get(event.get("index"))
                    if index is not None:
                        yield event if index == event.get("index") else _moved(event, index)
                elif event["type"] == "content_block_start":
                    block = event.get("content_block") or {}
                    if block.get("type") == "tool_use" and block.get("name") == TOOL_NAME:
                        continue  # answered here, or dropped: never the client's to run
                    shown[event.get("index")] = next_index
                    yield event if next_index == event.get("index") else _moved(event, next_index)
                    next_index += 1
                elif event["type"] == "message_start":
                    if not started:
                        started = True
                        yield event
                elif event["type"] == "message_delta":
                    final = event
                elif event["type"] == "error":
                    yield event
                    return
                elif event["type"] != "message_stop":
                    yield event  # ping
        if final is None:
            return  # the stream ended without message_delta: leave it visibly incomplete
        output_tokens += (final.get("usage") or {}).get("output_tokens") or 0
        calls = turn.tool_uses()
        if _intercept(calls, turn.stop_reason, round_no):
            results: list[dict[str, Any]] = []
            async with aclosing(_answer_with_pings(analyst, calls, writer)) as answering:
                async for item in answering:
                    if isinstance(item, list):
                        results = item
                    else:
                        yield item
            messages += [{"role": "assistant", "content": turn.content()}, {"role": "user", "content": results}]
            continue
        if next_index == 0 and calls:  # all dropped: an empty assistant message could not be replayed
            yield {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
            yield {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": GAVE_UP}}
            yield {"type": "content_block_stop", "index": 0}
        delta = final.get("delta") or {}
        yield {
            **final,
            "delta": {**delta, "stop_reason": _final_stop(delta.get("stop_reason"), calls)},
            "usage": {**(final.get("usage") or {}), "output_tokens": output_tokens},
        }
        yield {"type": "message_stop"}
        return


def _moved(event: BlockEvent, index: int) -> BlockEvent:
    """The event as the client's block `index` (a new dict, the same keys in the same order)."""
    moved = event.copy()
    moved["index"] = index
    return moved


async def _answer(analyst: Analyst, route: Route, body: dict[str, Any]) -> AnthropicMessage:
    messages = list(body["messages"])
    shown: list[ContentBlock] = []  # content of the rounds answered here, minus their calls
    output_tokens = 0
    for round_no in range(MAX_ROUNDS + 1):
        message = await fetch_message(analyst.request, analyst.snapshot, route, {**body, "messages": messages}, analyst.ctx)
        output_tokens += (message.get("usage") or {}).get("output_tokens") or 0
        content = message.get("content") or []
        calls = [b for b in content if b.get("type") == "tool_use"]
        if _intercept(calls, message.get("stop_reason"), round_no):
            shown += [b for b in content if b.get("type") != "tool_use"]
            results = await analyst.answer(calls)
            messages += [{"role": "assistant", "content": content}, {"role": "user", "content": results}]
            continue
        break
    kept = shown + [b for b in content if not (b.get("type") == "tool_use" and b.get("name") == TOOL_NAME)]
    if not kept and calls:  # all dropped: an empty assistant message could not be replayed
        kept = [{"type": "text", "text": GAVE_UP}]
    return {
        **message,
        "content": kept,
        "stop_reason": _final_stop(message.get("stop_reason"), calls),
        "usage": {**(message.get("usage") or {}), "output_tokens": output_tokens},
    }
