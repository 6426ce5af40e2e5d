"""The shared implementation of `openrouter` and `vercel` (with the
[FIX]es); the two gateways speak the same dialect and differ only in name.

Request: `cache_control` stripped for non-claude models (only Anthropic honours it), image
parts made valid data URLs (raw base64 only: the reference doubled the prefix), earlier turns'
reasoning replayed, then the transformer options merged over the body (`provider`, `models`…).
Response: `reasoning` / `reasoning_details` become signed thinking (real signatures relayed
with a provenance tag), numeric or missing tool ids become `call_<uuid>`, `finish_reason:
"error"` becomes an error chunk, and `stop` after tool calls becomes `tool_calls`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ....errors import ApiError
from ....shapes.unified import ProviderBody, UnifiedChunk, UnifiedCompletion, UnifiedRequest
from ...base import Context, ProviderInfo, Transformer
from ...reasoning.thinking import ReasoningFields, ReasoningStream, message_reasoning, with_delta
from ...shared import signatures
from ...shared.effort import capped_effort, effort_of
from ...shared.parts import clean_messages
from ...shared.tool_ids import ToolIds


class OpenRouterLike(Transformer):
    keeps_cache_control = True  # passed to Claude models, stripped for the others
    handles_reasoning = True  # the gateway takes `reasoning` as it is
    """Subclasses set `name`; it is also the provenance tag of relayed signatures."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.fields = ReasoningFields(keys=("reasoning",), details=True, source=self.name)

    async def request_in(self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context) -> ProviderBody:
        body: dict[str, Any] = dict(request)
        effort = effort_of(body.get("reasoning"))
        if effort not in (None, "none"):  # the gateway's levels stop at high
            body["reasoning"] = {**body["reasoning"], "effort": capped_effort(effort)}
        claude = "claude" in str(body.get("model") or "").lower()
        if isinstance(body.get("messages"), list):
            messages = clean_messages(body["messages"], strip_cache=not claude)
            body["messages"] = [self.replay(message, claude) for message in messages]
        body.update(self.options)  # Object.assign(request, options)
        return body

    def replay(self, message: Any, claude: bool) -> Any:
        """Assistant `thinking` -> OpenRouter's reasoning fields. A signature goes back only when
        this gateway issued it; other reasoning goes back as text, except to Claude models, which
        reject thinking that carries no valid signature."""
        if not isinstance(message, dict) or "thinking" not in message:
            return message
        thinking = message["thinking"]
        message = {key: value for key, value in message.items() if key != "thinking"}
        if message.get("role") != "assistant" or not isinstance(thinking, dict):
            return message
        content = thinking.get("content") if isinstance(thinking.get("content"), str) else ""
        own = signatures.untag(self.name, thinking.get("signature"))
        if own is not None:
            signature, fmt = own
            detail: dict[str, Any] = {"type": "reasoning.text", "text": content, "signature": signature}
            if fmt:
                detail["format"] = fmt
            message["reasoning_details"] = [detail]
        elif content and not claude:
            message["reasoning"] = content
        return message

    async def stream_out(self, chunks: AsyncIterator[UnifiedChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
        reasoning = ReasoningStream(self.fields, ctx)
        tool_ids = ToolIds(ctx)
        has_tool_call = False
        async for chunk in chunks:
            choices = chunk.get("choices")
            if choices and isinstance(choices, list) and isinstance(choices[0], dict):
                choice = choices[0]
                finish = choice.get("finish_reason")
                if finish == "error" and not chunk.get("error"):  # a top-level error speaks for itself
                    error = choice.get("error")
                    yield {"error": error if isinstance(error, dict) else {"message": "Provider returned an error"}}
                delta = choice.get("delta")
                calls = delta.get("tool_calls") if isinstance(delta, dict) else None
                if isinstance(delta, dict) and calls and isinstance(calls, list):
                    has_tool_call = True
                    fixed = tool_ids.fix(calls)
                    if fixed is not None:
                        chunk = with_delta(chunk, {**delta, "tool_calls": fixed})
                if finish == "stop" and has_tool_call:
                    # Only a real finish is rewritten: some upstreams put usage on every chunk.
                    chunk = {**chunk, "choices": [{**chunk["choices"][0], "finish_reason": "tool_calls"}]}
            for out in reasoning.feed(chunk):
                yield out
        for out in reasoning.end():
            yield out

    def json_out(self, body: UnifiedCompletion, ctx: Context) -> UnifiedCompletion:
        body = message_reasoning(body, self.fields, ctx)
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return body
        choice = choices[0]
        if choice.get("finish_reason") == "error":
            error = choice.get("error")
            reason = error.get("message") if isinstance(error, dict) else None
            raise ApiError(502, f"Provider error: {reason or 'finish_reason error'}")
        message = choice.get("message")
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        fixed = ToolIds(ctx).fix(calls) if calls and isinstance(calls, list) else None
        if fixed is None or not isinstance(message, dict):
            return body
        return {**body, "choices": [{**choice, "message": {**message, "tool_calls": fixed}}, *choices[1:]]}
