"""Anthropic Messages answers (JSON or SSE events) from Claude on Vertex -> unified answers
([FIX]: tool_use, thinking with its signature, input/cache usage and
errors are kept; the reference lost all of them).

Tool calls use the content block index as `tool_calls[].index` (VX4). Stop reasons map to the
OpenAI names; `refusal` and `pause_turn` have none and pass through (the Anthropic side maps them
back as they are).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ....errors import ApiError
from ....jsonutil import dumps
from ....shapes.unified import (
    Annotation,
    Delta,
    ProviderBody,
    ProviderChunk,
    Thinking,
    ToolCall,
    UnifiedChunk,
    UnifiedCompletion,
    UnifiedError,
    UnifiedMessage,
    Usage,
)
from ...base import Context
from ...shared.chunks import closing, new_chunk, new_completion

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
}


def finish_reason(stop_reason: Any) -> str | None:
    if not isinstance(stop_reason, str) or not stop_reason:
        return None
    return _FINISH.get(stop_reason, stop_reason)


def unified_usage(usage: Any) -> Usage:
    """Anthropic usage -> unified. prompt_tokens = input + cache reads (what the Anthropic side
    subtracts the cached count from); cache writes travel in their own field."""
    usage = usage if isinstance(usage, dict) else {}
    read = usage.get("cache_read_input_tokens") or 0
    created = usage.get("cache_creation_input_tokens") or 0
    prompt = (usage.get("input_tokens") or 0) + read
    output = usage.get("output_tokens") or 0
    result: Usage = {
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + created + output,
        "prompt_tokens_details": {"cached_tokens": read},
    }
    if created:
        result["cache_creation_input_tokens"] = created
    return result


def _annotations(block: Mapping[str, Any]) -> list[Annotation]:
    results = block.get("content")
    if not isinstance(results, list):
        results = []
    return [
        {"type": "url_citation", "url_citation": {"url": r.get("url") or "", "title": r.get("title") or ""}}
        for r in results
        if isinstance(r, dict) and r.get("type") == "web_search_result"
    ]


def _error(error: Any) -> UnifiedError:
    if isinstance(error, dict):
        return {"type": error.get("type") or "api_error", "message": error.get("message") or dumps(error)}
    return {"type": "api_error", "message": str(error)}


def anthropic_json_to_unified(body: ProviderBody, ctx: Context) -> UnifiedCompletion:
    if body.get("type") == "error" or (body.get("error") and not body.get("content")):
        raise ApiError(502, f"Vertex Claude error: {_error(body.get('error'))['message']}")
    texts: list[str] = []
    calls: list[ToolCall] = []
    thinking: Thinking | None = None
    annotations: list[Annotation] = []
    for block in body.get("content") or ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "thinking" and thinking is None:
            thinking = {"content": block.get("thinking") or "", "signature": block.get("signature") or ""}
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id") or ctx.new_id("call_"),
                    "type": "function",
                    "function": {"name": block.get("name") or "", "arguments": dumps(block.get("input") or {})},
                }
            )
        elif kind == "web_search_tool_result":
            annotations.extend(_annotations(block))
    message: UnifiedMessage = {"role": "assistant", "content": "".join(texts)}
    if thinking is not None:
        message["thinking"] = thinking
    if calls:
        message["tool_calls"] = calls
    if annotations:
        message["annotations"] = annotations
    return new_completion(
        body.get("id") or ctx.new_id("msg_"),
        int(time.time()),
        body.get("model") or ctx.model,
        message,
        finish_reason(body.get("stop_reason")),
        unified_usage(body.get("usage")),
    )


class _Stream:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.id = ""
        self.model = ctx.model
        self.created = int(time.time())
        self.usage: dict[str, Any] = {}  # Anthropic counts, as the events report them

    def chunk(self, delta: Delta, finish: str | None = None, usage: Usage | None = None) -> UnifiedChunk:
        return new_chunk(self.id, self.created, self.model, delta, finish, usage)

    def event(self, event: ProviderChunk) -> UnifiedChunk | None:
        kind = event.get("type")
        if kind == "content_block_delta":
            return self.block_delta(event.get("index"), event.get("delta") or {})
        if kind == "content_block_start":
            return self.block_start(event.get("index"), event.get("content_block") or {})
        if kind == "message_start":
            message = event.get("message") or {}
            self.id = message.get("id") or self.id
            self.model = message.get("model") or self.model
            if isinstance(message.get("usage"), dict):
                self.usage.update(message["usage"])
            return None
        if kind == "message_delta":
            if isinstance(event.get("usage"), dict):  # cumulative counts
                self.usage.update({k: v for k, v in event["usage"].items() if v is not None})
            stop = (event.get("delta") or {}).get("stop_reason")
            return self.chunk({}, finish_reason(stop), unified_usage(self.usage))
        if kind == "error":
            return {"error": _error(event.get("error"))}
        return None  # ping, content_block_stop, message_stop

    def block_start(self, index: Any, block: Mapping[str, Any]) -> UnifiedChunk | None:
        kind = block.get("type")
        if kind == "tool_use":
            args = dumps(block["input"]) if block.get("input") else ""
            call: ToolCall = {"index": index, "id": block.get("id") or self.ctx.new_id("call_"), "type": "function",
                    "function": {"name": block.get("name") or "", "arguments": args}}
            return self.chunk({"role": "assistant", "tool_calls": [call]})
        if kind == "text" and block.get("text"):
            return self.chunk({"role": "assistant", "content": block["text"]})
        if kind == "thinking" and block.get("thinking"):
            return self.chunk({"role": "assistant", "thinking": {"content": block["thinking"]}})
        if kind == "web_search_tool_result":
            cited = _annotations(block)
            return self.chunk({"role": "assistant", "annotations": cited}) if cited else None
        return None

    def block_delta(self, index: Any, delta: Mapping[str, Any]) -> UnifiedChunk | None:
        kind = delta.get("type")
        if kind == "text_delta":
            return self.chunk({"content": delta.get("text") or ""})
        if kind == "input_json_delta":
            return self.chunk({"tool_calls": [{"index": index, "function": {"arguments": delta.get("partial_json") or ""}}]})
        if kind == "thinking_delta":
            return self.chunk({"thinking": {"content": delta.get("thinking") or ""}})
        if kind == "signature_delta":
            return self.chunk({"thinking": {"signature": delta.get("signature") or ""}})
        return None  # citations_delta: no unified form


async def anthropic_stream_to_unified(
    chunks: AsyncIterator[ProviderChunk], ctx: Context
) -> AsyncIterator[UnifiedChunk]:
    stream = _Stream(ctx)
    async with closing(chunks):
        async for event in chunks:
            out = stream.event(event)
            if out is not None:
                yield out
