"""`groq`: GroqCloud (with the [FIX]es).

Groq validates requests strictly ("property 'x' is unsupported"), so the request loses every
unified extension it would reject: `cache_control`, image `media_type`, the assistant
`thinking`, `server_tool_type` on tools, top-level `reasoning`, and `$schema` in tool
parameters (guarded: server tools have no parameters, which crashed the reference).
Stream: each tool call gets a `call_<uuid>` id, and Groq's `reasoning` field (gpt-oss) becomes
signed thinking.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ....shapes.unified import ProviderBody, UnifiedChunk, UnifiedCompletion, UnifiedRequest
from ...base import Context, ProviderInfo, Transformer, builtin
from ...reasoning.thinking import (
    ReasoningFields,
    ReasoningStream,
    first_delta,
    message_reasoning,
    replay_reasoning,
    with_delta,
)
from ...shared.parts import clean_messages
from ...shared.tool_ids import ToolIds

FIELDS = ReasoningFields(keys=("reasoning",))


def clean_tool(tool: Any) -> Any:
    """A tool without `server_tool_type` and `$schema` (new dicts: schemas are shared)."""
    if not isinstance(tool, dict):
        return tool
    tool = {key: value for key, value in tool.items() if key != "server_tool_type"}
    function = tool.get("function")
    parameters = function.get("parameters") if isinstance(function, dict) else None
    if isinstance(parameters, dict) and "$schema" in parameters:
        parameters = {key: value for key, value in parameters.items() if key != "$schema"}
        tool["function"] = {**function, "parameters": parameters}
    return tool


@builtin
class Groq(Transformer):
    name = "groq"
    handles_reasoning = True

    async def request_in(self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context) -> ProviderBody:
        request = request.copy()
        request.pop("reasoning", None)
        if isinstance(request.get("messages"), list):
            request["messages"] = replay_reasoning(clean_messages(request["messages"], strip_cache=True), None)
        if isinstance(request.get("tools"), list):
            request["tools"] = [clean_tool(tool) for tool in request["tools"]]
        return request

    async def stream_out(self, chunks: AsyncIterator[UnifiedChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
        reasoning = ReasoningStream(FIELDS, ctx)
        tool_ids = ToolIds(ctx, replace_all=True)
        async for chunk in chunks:
            delta = first_delta(chunk)
            calls = delta.get("tool_calls") if delta is not None else None
            if delta is not None and calls and isinstance(calls, list):
                fixed = tool_ids.fix(calls)
                if fixed is not None:
                    chunk = with_delta(chunk, {**delta, "tool_calls": fixed})
            for out in reasoning.feed(chunk):
                yield out
        for out in reasoning.end():
            yield out

    def json_out(self, body: UnifiedCompletion, ctx: Context) -> UnifiedCompletion:
        return message_reasoning(body, FIELDS, ctx)
