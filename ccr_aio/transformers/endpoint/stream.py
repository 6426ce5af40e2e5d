"""Unified (OpenAI chat) chunks -> Anthropic Messages SSE events, with
the reference's known bugs fixed.

One block is open at a time and it has a kind (text / thinking / tool_use); a delta of another
kind closes it and opens a new block. Claude Code drops thinking that is not signed and trusts
message_stop to mean "complete", so every thinking block is signed (synthesized when the
upstream gives no signature), and message_stop is sent only at a clean end of input that followed a finish_reason.

Tool calls open their block once their name is known (B9). Only one tool streams live; a tool
that starts while another is still receiving arguments is buffered and opened, with all of its
arguments in one delta, when the live tool's arguments form complete JSON, or at end of input.
Text, thinking and citations that arrive while the live tool's arguments are incomplete wait
for it the same way, instead of closing its block and losing the rest of its arguments. So no
delta ever targets a closed block, even when the upstream interleaves (B5), and nothing is lost.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import structlog

from ...errors import ApiError, error_type_for
from ...jsonutil import dumps, loads
from ...shapes.anthropic import AnthropicEvent, BlockDelta, BlockKind, ContentBlock, ErrorDetail, WebSearchResult
from ...shapes.unified import Annotation, Thinking, ToolCall, UnifiedChunk, UrlCitation, Usage
from ..base import Context
from ..shared.chunks import closing
from ..shared.json_whole import ObjectEnd
from ..shared.tool_signatures import id_with_signature, signature_of
from .mappings import anthropic_usage, ended_early, map_stop_reason, upstream_error_status

log = structlog.get_logger("ccr_aio.anthropic_stream")

ToolKey = int | str  # the call's `index`, else its `id`
ToolState = Literal["pending", "open", "closed"]


class _Tool:
    __slots__ = ("key", "id", "name", "signature", "args", "end", "state")

    def __init__(self, key: ToolKey) -> None:
        self.key = key
        self.id: str | None = None
        self.name: str | None = None
        self.signature: str | None = None  # a Gemini thought signature, carried in the id
        self.args: list[str] = []
        self.end = ObjectEnd()  # whether the arguments so far are one whole JSON object
        self.state: ToolState = "pending"  # -> "open" -> "closed"

    def add_args(self, fragment: str) -> None:
        self.args.append(fragment)
        self.end.feed(fragment)

    def args_complete(self) -> bool:
        return self.end.whole(lambda: "".join(self.args), loads)


class _Converter:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.out: list[AnthropicEvent] = []
        self.started = False
        self.next_index = 0
        self.kind: BlockKind | None = None  # kind of the open block; None when no block is open
        self.index = -1
        self.signed = False  # the open thinking block has had its signature_delta
        self.tools: dict[ToolKey, _Tool] = {}
        self.pending: deque[_Tool] = deque()  # known tools whose block has not opened yet
        self.live: _Tool | None = None  # the tool whose block is open
        self.deferred: list[tuple[Callable[[Any], None], Any]] = []  # content that arrived while `live` was incomplete
        self.last_key: ToolKey | None = None
        self.had_tool_use = False
        self.finish: str | None = None
        self.usage: Usage | None = None

    # -- blocks ---------------------------------------------------------------------------

    def start_message(self, model: str | None) -> None:
        self.started = True
        self.out.append(
            {
                "type": "message_start",
                "message": {
                    "id": self.ctx.new_id("msg_"),
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": self.ctx.client_model or model or "unknown",
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": self.ctx.input_tokens, "output_tokens": 0},
                },
            }
        )

    def open(self, kind: BlockKind, block: ContentBlock) -> None:
        self.close()
        self.kind, self.index, self.signed = kind, self.next_index, False
        self.next_index += 1
        self.out.append({"type": "content_block_start", "index": self.index, "content_block": block})

    def delta(self, delta: BlockDelta) -> None:
        self.out.append({"type": "content_block_delta", "index": self.index, "delta": delta})

    def close(self) -> None:
        if self.kind is None:
            return
        if self.kind == "thinking" and not self.signed:
            self.delta({"type": "signature_delta", "signature": self.ctx.new_id("ccr_")})
        if self.live is not None:
            self.live.state = "closed"
            self.live = None
        self.out.append({"type": "content_block_stop", "index": self.index})
        self.kind = None

    # -- chunk parts, in the reference order: thinking, text, annotations, tools -----------

    def thinking(self, thinking: Thinking) -> None:
        content, signature = thinking.get("content"), thinking.get("signature")
        if self.kind != "thinking":
            if not content:
                return  # a signature for a block that is no longer open: nothing to sign
            self.open("thinking", {"type": "thinking", "thinking": ""})
            self.delta({"type": "thinking_delta", "thinking": content})
        elif not signature and content:
            self.delta({"type": "thinking_delta", "thinking": content})
        # With an open block, content beside a signature repeats the whole text: skip it.
        if signature:
            self.delta({"type": "signature_delta", "signature": signature})
            self.signed = True
            self.close()

    def text(self, text: str) -> None:
        if self.kind != "text":
            self.open("text", {"type": "text", "text": ""})
        self.delta({"type": "text_delta", "text": text})

    def annotations(self, annotations: list[Annotation]) -> None:
        results: list[WebSearchResult] = []
        for ann in annotations:
            if isinstance(ann, dict):
                cite: UrlCitation | Annotation | None = ann.get("url_citation")
                cite = cite if isinstance(cite, dict) else ann
                results.append(
                    {"type": "web_search_result", "url": cite.get("url") or "", "title": cite.get("title") or ""}
                )
        tool_id = f"srvtoolu_{self.ctx.new_uuid()}"
        self.open(
            "server_tool_use",
            {"type": "server_tool_use", "id": tool_id, "name": "web_search", "input": {"query": ""}},
        )
        self.open(
            "web_search_tool_result",
            {"type": "web_search_tool_result", "tool_use_id": tool_id, "content": results},
        )
        self.close()

    def tool_calls(self, calls: list[ToolCall]) -> None:
        for call in calls:
            if isinstance(call, dict):
                self.tool_call(call)
        self.advance_tools()

    def tool_call(self, call: ToolCall) -> None:
        key: ToolKey | None = call.get("index")
        if key is None:  # no index: a new id starts a new tool, anything else continues the last
            key = call.get("id") or (self.last_key if self.last_key is not None else 0)
        self.last_key = key
        tool = self.tools.get(key)
        if tool is None:
            tool = self.tools[key] = _Tool(key)
            self.pending.append(tool)
        function = call.get("function") or {}
        tool.id = tool.id or call.get("id") or None
        tool.name = tool.name or function.get("name") or None
        tool.signature = tool.signature or signature_of(call)
        args = function.get("arguments")
        if not args or not isinstance(args, str):
            return
        if tool.state == "closed":
            if args.strip():
                log.warning("tool_arguments_after_close", tool=key)
            return
        tool.add_args(args)  # B6: duplicate entries of one index simply concatenate
        if tool.state == "open":
            self.delta({"type": "input_json_delta", "partial_json": args})

    def tool_busy(self) -> bool:
        """The live tool may still receive arguments, so its block must stay open."""
        return self.live is not None and not self.live.args_complete()

    def content(self, handle: Callable[[Any], None], value: Any) -> None:
        if self.deferred or self.tool_busy():
            self.deferred.append((handle, value))
        else:
            handle(value)

    def advance_tools(self) -> None:
        """Once nothing live may still need its block: waiting content first, then pending
        tools in order."""
        while not self.tool_busy():
            if self.deferred:
                handle, value = self.deferred.pop(0)
                handle(value)
            elif self.pending and self.pending[0].name:
                self.open_tool(self.pending.popleft())
            else:
                return

    def open_tool(self, tool: _Tool) -> None:
        tool_id = id_with_signature(tool.id or self.ctx.new_id("call_"), tool.signature)
        name = tool.name or f"tool_{tool.key}"
        self.open("tool_use", {"type": "tool_use", "id": tool_id, "name": name, "input": {}})
        self.live, tool.state = tool, "open"
        self.had_tool_use = True
        if tool.args:
            self.delta({"type": "input_json_delta", "partial_json": "".join(tool.args)})

    # -- chunks and end of input ----------------------------------------------------------

    def chunk(self, chunk: UnifiedChunk) -> bool:
        """Convert one chunk into `self.out`; False means the stream must end here."""
        if not self.started:
            self.start_message(chunk.get("model"))
        error = chunk.get("error")
        if error:
            self.error(error)
            return False
        usage = chunk.get("usage")
        if usage and isinstance(usage, dict) and any(isinstance(v, (int, float)) and v for v in usage.values()):
            self.usage = usage  # B2: the last non-empty usage wins, whichever chunk carries it
        choices = chunk.get("choices")
        if not choices or not isinstance(choices, list):
            return True
        choice = choices[0]  # further choices are ignored (AS15)
        if not isinstance(choice, dict):
            return True
        delta = choice.get("delta") or {}
        thinking = delta.get("thinking")
        if thinking and isinstance(thinking, dict):
            self.content(self.thinking, thinking)
        content = delta.get("content")
        if content and isinstance(content, str):
            self.content(self.text, content)
        annotations = delta.get("annotations")
        if annotations and isinstance(annotations, list):
            self.content(self.annotations, annotations)
        calls = delta.get("tool_calls")
        if calls and isinstance(calls, list):
            self.tool_calls(calls)
        if choice.get("finish_reason"):
            # Not terminal (B1): late usage or content may follow; blocks close at end of input.
            self.finish = choice["finish_reason"]
        return True

    def error(self, error: Any) -> None:
        self.close()
        self.out.append({"type": "error", "error": _error_body(error)})

    def end(self) -> None:
        """A clean end of input. Without a finish_reason it is a cut answer (a proxy or the
        provider closed the stream early): it ends in an error, never in message_stop, and
        when nothing at all arrived the client gets an HTTP error instead of a stream."""
        if self.finish is None:
            message = ended_early(self.ctx.provider, self.ctx.model)
            if not self.started:
                raise ApiError(502, message)
            self.error({"type": "api_error", "message": message})
            return
        self.close()  # nothing more can arrive for the live tool
        for handle, value in self.deferred:
            handle(value)
        self.deferred.clear()
        while self.pending:  # B9: tools still without a name fall back to synthetic values here
            self.open_tool(self.pending.popleft())
        self.close()
        self.out.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": map_stop_reason(self.finish, self.had_tool_use), "stop_sequence": None},
                "usage": anthropic_usage(self.usage),
            }
        )
        self.out.append({"type": "message_stop"})


def _error_body(error: Any) -> ErrorDetail:
    if not isinstance(error, dict):
        return {"type": "api_error", "message": str(error)}
    status = upstream_error_status(error)
    kind = error_type_for(status) if status is not None else "api_error"
    message = error.get("message")
    if not message or not isinstance(message, str):
        message = dumps(error)
    return {"type": kind, "message": message}


async def unified_to_anthropic_stream(
    chunks: AsyncIterator[UnifiedChunk], ctx: Context
) -> AsyncIterator[AnthropicEvent]:
    """Yield Anthropic event dicts for unified chunks. An upstream error chunk, or an end of
    input without a finish_reason, ends the stream with an `error` event and no message_stop;
    an exception from `chunks` propagates as is."""
    conv = _Converter(ctx)
    async with closing(chunks):
        async for chunk in chunks:
            keep_going = conv.chunk(chunk)
            if conv.out:
                events, conv.out = conv.out, []
                for event in events:
                    yield event
            if not keep_going:
                return
        conv.end()
        for event in conv.out:
            yield event
