"""`deepseek`: DeepSeek's chat API (with the [FIX]es).

Request: `max_tokens` capped (DeepSeek rejects larger values), and the reasoning of earlier
assistant turns replayed as `reasoning_content`: in thinking mode DeepSeek answers 400 when an
assistant turn lacks the field, so turns without reasoning get an empty one. The unified
`reasoning` is not sent; effort xhigh or max switches thinking on (`thinking: {"type":
"enabled"}`), lower efforts leave the model's own mode. Response: `reasoning_content` becomes signed thinking, streamed or not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ....shapes.unified import ProviderBody, UnifiedChunk, UnifiedCompletion, UnifiedRequest
from ...base import Context, ProviderInfo, Transformer, builtin
from ...reasoning.thinking import (
    ReasoningFields,
    message_reasoning,
    reasoning_stream,
    replay_reasoning,
    thinking_mode,
)
from ...shared.effort import at_least, effort_of

# vLLM-served DeepSeek models put the same text in `reasoning`.
FIELDS = ReasoningFields(keys=("reasoning_content", "reasoning"))
MAX_TOKENS = 8192


@builtin
class DeepSeek(Transformer):
    name = "deepseek"
    handles_reasoning = True

    async def request_in(self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context) -> ProviderBody:
        request = request.copy()
        limit = self.options.get("max_tokens", MAX_TOKENS)  # beyond the spec: deepseek-reasoner allows more
        max_tokens = request.get("max_tokens")
        if isinstance(max_tokens, int) and isinstance(limit, int) and max_tokens > limit:
            request["max_tokens"] = limit
        if isinstance(request.get("messages"), list):
            placeholder = thinking_mode(request)
            request["messages"] = replay_reasoning(request["messages"], "reasoning_content", placeholder)
        reasoning = request.pop("reasoning", None)  # DeepSeek has no such field
        body: dict[str, Any] = dict(request)  # gains DeepSeek's own switch
        # Its only knob is a switch; the model's own mode (chat: off, reasoner: on) unless the
        # client asked for the most effort.
        if reasoning is not None and at_least(effort_of(reasoning), "xhigh") and reasoning.get("enabled") is not False:
            body["thinking"] = {"type": "enabled"}
        return body

    def stream_out(self, chunks: AsyncIterator[UnifiedChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
        return reasoning_stream(chunks, FIELDS, ctx)

    def json_out(self, body: UnifiedCompletion, ctx: Context) -> UnifiedCompletion:
        return message_reasoning(body, FIELDS, ctx)
