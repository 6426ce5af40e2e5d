"""OpenAI Responses API stream events -> unified chat.completion chunks ([FIX]).

Each event arrives as its `data:` JSON (the `event:` line repeats `type`). The fixes over the
reference: every function_call item gets its own tool index; usage comes from the terminal
event; `response.incomplete` finishes with `length`; `error` / `response.failed` become an
error chunk; the model comes from `response.created`. Every thinking block ends with a
signature chunk: when its reasoning item is done (carrying its encrypted content, see
common.py) or, at the latest, when anything else starts. A stream that ends without a
terminal event is reported as an error, so the client never takes a cut answer as complete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ....shapes.unified import Delta, ProviderChunk, ToolCall, UnifiedChunk, Usage

from ...base import Context
from ...shared import signatures
from ...shared.chunks import new_chunk, run_converter
from .common import (
    finish_for_incomplete,
    reasoning_signature,
    unified_error,
    unified_usage,
    url_citation,
)


class _Tool:
    __slots__ = ("index", "sent")

    def __init__(self, index: int) -> None:
        self.index = index
        self.sent: list[str] = []  # argument text already emitted


class _State:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.id = ""
        self.model: str | None = None
        self.created = 0
        self.tools: dict[Any, _Tool] = {}  # by item id and by output_index
        self.tool_count = 0
        self.thinking_item: str | None = None  # reasoning item whose thinking block is open
        self.thinking_part: Any = None  # summary_index of the last thinking text
        self.text_item: Any = None  # item of the last text emitted, when text was the last thing
        self.text_seen: set[Any] = set()  # message items that streamed text
        self.ended = False

    def chunk(self, delta: Delta, finish: str | None = None, usage: Usage | None = None) -> UnifiedChunk:
        return new_chunk(self.id, self.created, self.model, delta, finish, usage)

    # -- thinking -------------------------------------------------------------------------

    def thinking(self, event: ProviderChunk, out: list[UnifiedChunk]) -> None:
        delta = event.get("delta")
        if not isinstance(delta, str) or not delta:
            return
        item_id = event.get("item_id")
        part = event.get("summary_index", event.get("content_index"))
        if self.thinking_item is not None and item_id == self.thinking_item:
            if part != self.thinking_part:
                delta = "\n\n" + delta  # a new summary part of the same item
        else:
            self.sign(out)
            self.thinking_item = item_id or ""
        self.thinking_part = part
        self.text_item = None
        out.append(self.chunk({"thinking": {"content": delta}}))

    def sign(self, out: list[UnifiedChunk], item: dict[str, Any] | None = None) -> None:
        """End the open thinking block, with the item's signature when the item is known."""
        if self.thinking_item is None:
            return
        signature = reasoning_signature(item, self.ctx.provider) if item else None
        signature = signature or self.thinking_item or signatures.synthesize(self.ctx)
        self.thinking_item = None
        out.append(self.chunk({"thinking": {"signature": signature}}))

    # -- text and tools -------------------------------------------------------------------

    def text(self, item_id: Any, text: str, out: list[UnifiedChunk]) -> None:
        if not text:
            return
        self.sign(out)
        if self.text_item is not None and item_id != self.text_item:
            text = "\n\n" + text  # a second message item right after the first one
        self.text_item = item_id
        self.text_seen.add(item_id)
        out.append(self.chunk({"content": text}))

    def tool(self, event: ProviderChunk) -> _Tool | None:
        return self.tools.get(event.get("item_id")) or self.tools.get(("output", event.get("output_index")))

    def start_tool(self, event: ProviderChunk, item: dict[str, Any], out: list[UnifiedChunk]) -> _Tool:
        self.sign(out)
        self.text_item = None
        tool = _Tool(self.tool_count)
        self.tool_count += 1
        if item.get("id"):
            self.tools[item["id"]] = tool
        if event.get("output_index") is not None:
            self.tools[("output", event["output_index"])] = tool
        arguments = item.get("arguments")
        if not isinstance(arguments, str):
            arguments = ""
        call: ToolCall = {
            "index": tool.index,
            "id": item.get("call_id") or item.get("id") or self.ctx.new_id("call_"),
            "type": "function",
            "function": {"name": item.get("name") or "", "arguments": arguments},
        }
        if arguments:
            tool.sent.append(arguments)
        out.append(self.chunk({"role": "assistant", "tool_calls": [call]}))
        return tool

    def arguments(self, tool: _Tool, fragment: str, out: list[UnifiedChunk]) -> None:
        if fragment:
            tool.sent.append(fragment)
            out.append(self.chunk({"tool_calls": [{"index": tool.index, "function": {"arguments": fragment}}]}))

    def complete_arguments(self, tool: _Tool | None, full: Any, out: list[UnifiedChunk]) -> None:
        """Servers that send arguments only in `.done` events still get their arguments through."""
        if tool is None or not isinstance(full, str):
            return
        sent = "".join(tool.sent)
        if full != sent and full.startswith(sent):
            self.arguments(tool, full[len(sent) :], out)

    # -- events ---------------------------------------------------------------------------

    def event(self, event: ProviderChunk) -> list[UnifiedChunk]:
        out: list[UnifiedChunk] = []
        if self.ended:
            return out
        kind = event.get("type")
        if kind in ("response.created", "response.in_progress"):
            self.response_info(event.get("response"))
            if kind == "response.created":
                out.append(self.chunk({"role": "assistant"}))  # starts the client's message early
        elif kind in ("response.output_text.delta", "response.refusal.delta"):
            delta = event.get("delta")
            if isinstance(delta, str):
                self.text(event.get("item_id"), delta, out)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            self.thinking(event, out)
        elif kind == "response.function_call_arguments.delta":
            tool = self.tool(event)
            if tool is None:  # arguments for an item never announced: give it a slot anyway
                tool = self.start_tool(event, {"id": event.get("item_id")}, out)
            delta = event.get("delta")
            if isinstance(delta, str):
                self.arguments(tool, delta, out)
        elif kind == "response.function_call_arguments.done":
            self.complete_arguments(self.tool(event), event.get("arguments"), out)
        elif kind == "response.output_text.annotation.added":
            annotation = url_citation(event.get("annotation"))
            if annotation is not None:
                self.sign(out)
                out.append(self.chunk({"annotations": [annotation]}))
        elif kind == "response.output_item.added":
            self.item_added(event, out)
        elif kind == "response.output_item.done":
            self.item_done(event, out)
        elif kind in ("response.completed", "response.incomplete"):
            self.finish(event, out)
        elif kind in ("response.failed", "error"):
            self.fail(event, out)
        return out

    def response_info(self, response: Any) -> None:
        if isinstance(response, dict):
            self.id = response.get("id") or self.id
            self.model = response.get("model") or self.model
            self.created = response.get("created_at") or self.created

    def item_added(self, event: ProviderChunk, out: list[UnifiedChunk]) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            return
        kind = item.get("type")
        if kind == "function_call":
            self.start_tool(event, item, out)
        elif kind == "reasoning":
            self.sign(out)
        else:
            self.sign(out)
            if kind == "message":
                self.text(item.get("id"), _message_text(item), out)

    def item_done(self, event: ProviderChunk, out: list[UnifiedChunk]) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            return
        kind = item.get("type")
        if kind == "reasoning":
            if self.thinking_item is not None and self.thinking_item in (item.get("id"), ""):
                self.sign(out, item)
        elif kind == "function_call":
            self.complete_arguments(self.tool({**event, "item_id": item.get("id")}), item.get("arguments"), out)
        elif kind == "message" and item.get("id") not in self.text_seen:
            self.text(item.get("id"), _message_text(item), out)

    def finish(self, event: ProviderChunk, out: list[UnifiedChunk]) -> None:
        response = event.get("response")
        if not isinstance(response, dict):
            response = {}
        self.response_info(response)
        self.sign(out)
        if event.get("type") == "response.incomplete":
            reason = finish_for_incomplete(response)
        elif self.tools or any(
            isinstance(item, dict) and item.get("type") == "function_call" for item in response.get("output") or ()
        ):
            reason = "tool_calls"
        else:
            reason = "stop"
        self.ended = True
        out.append(self.chunk({}, reason, unified_usage(response.get("usage"))))

    def fail(self, event: ProviderChunk, out: list[UnifiedChunk]) -> None:
        if event.get("type") == "error":
            error = event.get("error")
            if not isinstance(error, dict):
                error = event
        else:
            response = event.get("response")
            error = response.get("error") if isinstance(response, dict) else None
        self.ended = True
        out.append({"error": unified_error(error, "The provider reported a failed response")})

    def end(self) -> list[UnifiedChunk]:
        if self.ended:
            return []
        message = "The provider's Responses stream ended before response.completed"
        return [{"error": {"message": message, "type": "api_error", "status": 502}}]


def _message_text(item: dict[str, Any]) -> str:
    parts = item.get("content")
    if not isinstance(parts, list):
        return ""
    texts = []
    for part in parts:
        if isinstance(part, dict):
            text = part.get("text") if part.get("type") == "output_text" else part.get("refusal")
            if isinstance(text, str):
                texts.append(text)
    return "".join(texts)


def responses_to_unified_stream(events: AsyncIterator[ProviderChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
    """Yield unified chunks for Responses stream events; events after the terminal one are ignored."""
    state = _State(ctx)
    return run_converter(events, state.event, state.end)
