"""`reasoning`: generic `reasoning_content` providers, Qwen/DashScope style.

Option `enable` (default true). Request: the Qwen switches `thinking` / `enable_thinking` (off
for effort low), and earlier turns' reasoning replayed as `reasoning_content`. Response (when enabled): reasoning
becomes signed thinking; the signature chunk never repeats the tool calls that ended the
reasoning (the reference duplicated their arguments).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ...shapes.unified import ProviderBody, UnifiedChunk, UnifiedCompletion, UnifiedRequest
from ..base import Context, ProviderInfo, Transformer, builtin
from ..shared.effort import effort_of
from .thinking import (
    ReasoningFields,
    message_reasoning,
    reasoning_stream,
    replay_reasoning,
    thinking_mode,
)

# Newer vLLM releases renamed `reasoning_content` to `reasoning`.
FIELDS = ReasoningFields(keys=("reasoning_content", "reasoning"))


def _lowest(reasoning: Any) -> bool:
    """Qwen's knob is a switch: the lowest effort (without a budget of its own) is no thinking."""
    effort = effort_of(reasoning)
    return effort == "none" or (effort == "low" and not reasoning.get("max_tokens"))


@builtin
class Reasoning(Transformer):
    name = "reasoning"
    handles_reasoning = True

    @property
    def enabled(self) -> bool:
        return self.options.get("enable", True) is not False

    async def request_in(self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context) -> ProviderBody:
        body: dict[str, Any] = dict(request)  # gains the provider's own switches
        if not self.enabled or _lowest(body.get("reasoning")):
            body["thinking"] = {"type": "disabled", "budget_tokens": -1}
            body["enable_thinking"] = False
        elif isinstance(request.get("reasoning"), dict):
            thinking: dict[str, Any] = {"type": "enabled"}
            budget = body["reasoning"].get("max_tokens")
            if budget is not None:
                thinking["budget_tokens"] = budget
            body["thinking"] = thinking
            body["enable_thinking"] = True
        if isinstance(body.get("messages"), list):
            field = "reasoning_content" if self.enabled else None
            placeholder = self.enabled and thinking_mode(body)  # Kimi and DeepSeek need the field
            body["messages"] = replay_reasoning(body["messages"], field, placeholder)
        return body

    def stream_out(self, chunks: AsyncIterator[UnifiedChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
        if not self.enabled:
            return chunks
        return reasoning_stream(chunks, FIELDS, ctx)

    def json_out(self, body: UnifiedCompletion, ctx: Context) -> UnifiedCompletion:
        return message_reasoning(body, FIELDS, ctx) if self.enabled else body
