"""Unified (OpenAI-chat) JSON answer -> Anthropic message, and stream/JSON mismatch bridging.

`unified_to_anthropic_message` follows the reference with [FIX]es. `message_to_events` and
`aggregate_chunks` bridge what the reference could not [FIX]: a streaming client whose upstream answered JSON
gets a synthesized event sequence, and a JSON client whose upstream streamed gets one folded
answer.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any, cast

from ...errors import ApiError
from ...jsonutil import dumps, loads
from ...shapes.anthropic import (
    AnthropicEvent,
    AnthropicMessage,
    BlockDelta,
    ContentBlock,
    WebSearchResult,
)
from ...shapes.unified import Annotation, UnifiedCompletion, UrlCitation
from ..shared.tool_signatures import id_with_signature, signature_of
from .aggregate import aggregate_chunks
from .mappings import anthropic_usage, map_stop_reason

__all__ = ["aggregate_chunks", "message_to_events", "unified_to_anthropic_message"]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _tool_input(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if not arguments:
        return {}
    try:
        parsed = loads(arguments)
    except (TypeError, ValueError):
        parsed = None
    # Anthropic requires an object; keep anything else visible instead of losing it.
    return parsed if isinstance(parsed, dict) else {"text": arguments if isinstance(arguments, str) else dumps(arguments)}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # some producers answer with content parts
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _search_blocks(annotations: list[Annotation]) -> list[ContentBlock]:
    """url_citation annotations -> the server_tool_use + web_search_tool_result pair."""
    results: list[WebSearchResult] = []
    for ann in annotations:
        if not isinstance(ann, dict):
            continue
        cite: UrlCitation | Annotation | None = ann.get("url_citation")
        if not isinstance(cite, dict):
            cite = ann
        results.append({"type": "web_search_result", "url": cite.get("url") or "", "title": cite.get("title") or ""})
    tool_id = f"srvtoolu_{uuid.uuid4()}"
    return [
        {"type": "server_tool_use", "id": tool_id, "name": "web_search", "input": {"query": ""}},
        {"type": "web_search_tool_result", "tool_use_id": tool_id, "content": results},
    ]


def unified_to_anthropic_message(body: UnifiedCompletion, model: str | None = None) -> AnthropicMessage:
    """Convert a unified chat.completion into an Anthropic message; `model` overrides upstream's."""
    choices = body.get("choices") if isinstance(body, dict) else None
    choice = choices[0] if isinstance(choices, list) and choices else None
    if not isinstance(choice, dict):
        raise ApiError(500, f"Provider error: {dumps(body)}")
    message = choice.get("message")
    if not isinstance(message, dict):
        message = {}

    content: list[ContentBlock] = []
    # Thinking goes first, as Anthropic orders it; clients replay history in this order.
    thinking = message.get("thinking")
    if isinstance(thinking, dict) and thinking.get("content"):
        signature = thinking.get("signature") or f"ccr_{_now_ms()}"
        content.append({"type": "thinking", "thinking": thinking["content"], "signature": signature})
    annotations = message.get("annotations")
    if isinstance(annotations, list) and annotations:
        content.extend(_search_blocks(annotations))
    text = _text_of(message.get("content"))
    if text:
        content.append({"type": "text", "text": text})
    had_tool_use = False
    for n, call in enumerate(message.get("tool_calls") or ()):
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": id_with_signature(call.get("id") or f"call_{_now_ms()}_{n}", signature_of(call)),
                "name": function.get("name") or "",
                "input": _tool_input(function.get("arguments")),
            }
        )
        had_tool_use = True

    return {
        "id": body.get("id") or f"msg_{uuid.uuid4().hex}",
        "type": "message",
        "role": "assistant",
        "model": model or body.get("model") or "unknown",
        "content": content,
        "stop_reason": map_stop_reason(choice.get("finish_reason"), had_tool_use),
        "stop_sequence": None,
        "usage": anthropic_usage(body.get("usage")),
    }


def _block_events(index: int, block: Mapping[str, Any]) -> list[AnthropicEvent]:
    """The events of one block of a message: ours, or a passthrough provider's (read defensively)."""
    kind = block.get("type")
    start: ContentBlock
    deltas: list[BlockDelta]
    if kind == "text":
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": block.get("text") or ""}]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": ""}
        deltas = []
        if block.get("thinking"):
            deltas.append({"type": "thinking_delta", "thinking": block["thinking"]})
        # Claude Code renders a thinking block only when it ends with a signature_delta.
        deltas.append({"type": "signature_delta", "signature": block.get("signature") or ""})
    elif kind == "tool_use":
        start = {"type": "tool_use", "id": block.get("id") or "", "name": block.get("name") or "", "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": dumps(block.get("input") or {})}]
    else:  # server_tool_use, web_search_tool_result, ...: Anthropic sends these whole in the start
        start, deltas = cast(ContentBlock, block), []
    events: list[AnthropicEvent] = [{"type": "content_block_start", "index": index, "content_block": start}]
    events.extend({"type": "content_block_delta", "index": index, "delta": d} for d in deltas)
    events.append({"type": "content_block_stop", "index": index})
    return events


def message_to_events(message: AnthropicMessage) -> list[AnthropicEvent]:
    """Synthesize the Anthropic SSE event sequence for a complete message."""
    usage = message.get("usage") or {}
    start: AnthropicMessage = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        # Input-side counts are known up front; output is reported by message_delta.
        "usage": {**usage, "output_tokens": 0},
    }
    events: list[AnthropicEvent] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(message.get("content") or ()):
        events.extend(_block_events(index, block))
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message.get("stop_reason"), "stop_sequence": message.get("stop_sequence")},
            "usage": usage,
        }
    )
    events.append({"type": "message_stop"})
    return events
