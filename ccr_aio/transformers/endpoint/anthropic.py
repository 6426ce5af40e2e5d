"""The endpoint transformer of `/v1/messages`: Anthropic Messages ⇄ the unified shape.

The conversions live in `request.py`, `response.py` and
`stream.py` beside it; this class only wires them to the chain's hooks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ...shapes.anthropic import AnthropicEvent, AnthropicMessage, AnthropicRequest
from ...shapes.unified import UnifiedChunk, UnifiedCompletion, UnifiedRequest
from ..base import Context, ProviderInfo, Transformer, builtin
from ..shared.tool_signatures import split_id
from .request import anthropic_to_unified
from .response import unified_to_anthropic_message
from .stream import unified_to_anthropic_stream


@builtin
class Anthropic(Transformer):
    name = "Anthropic"
    endpoint = "/v1/messages"

    def request_out(self, body: AnthropicRequest, ctx: Context) -> UnifiedRequest:
        return anthropic_to_unified(body)

    def stream_in(self, chunks: AsyncIterator[UnifiedChunk], ctx: Context) -> AsyncIterator[AnthropicEvent]:
        return unified_to_anthropic_stream(chunks, ctx)

    def json_in(self, body: UnifiedCompletion, ctx: Context) -> AnthropicMessage:
        return unified_to_anthropic_message(body, ctx.client_model)

    def passthrough(self, body: AnthropicRequest, ctx: Context) -> AnthropicRequest:
        """Forward as is, minus thinking blocks another provider signed (after a mid-session
        model switch Anthropic would reject the whole request over "invalid signature"), and
        with Gemini's thought signatures taken out of tool ids (Anthropic has no use for them)."""
        body = body.copy()
        messages = body.get("messages")
        if isinstance(messages, list):
            body["messages"] = [_with_short_tool_ids(_without_foreign_thinking(m)) for m in messages]
        return body

    def auth(self, headers: dict[str, str], provider: ProviderInfo, ctx: Context) -> dict[str, str]:
        """Passthrough credentials: the provider's key replaces whatever the client sent."""
        headers = {k: v for k, v in headers.items() if k.lower() not in ("x-api-key", "authorization")}
        if self.options.get("UseBearer"):
            headers["authorization"] = f"Bearer {provider.api_key}"
        else:
            headers["x-api-key"] = provider.api_key
        return headers


def _is_foreign(block: Any) -> bool:
    return (
        isinstance(block, dict)
        and block.get("type") == "thinking"
        and str(block.get("signature") or "ccr_").startswith("ccr_")
    )


def _without_foreign_thinking(message: Any) -> Any:
    content = message.get("content") if isinstance(message, dict) else None
    # `content` first: a message that is not an object is forwarded as is, for the provider to refuse.
    if not isinstance(content, list) or message.get("role") != "assistant" or not any(map(_is_foreign, content)):
        return message
    return {**message, "content": [b for b in content if not _is_foreign(b)]}


_ID_KEYS = {"tool_use": "id", "tool_result": "tool_use_id"}


def _short_ids(block: Any) -> Any:
    kind = block.get("type") if isinstance(block, dict) else None
    key = _ID_KEYS.get(kind) if isinstance(kind, str) else None
    if key is None:
        return block
    call_id, signature = split_id(block.get(key))
    return block if signature is None else {**block, key: call_id}


def _with_short_tool_ids(message: Any) -> Any:
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return message
    blocks = [_short_ids(block) for block in content]
    return message if all(a is b for a, b in zip(blocks, content)) else {**message, "content": blocks}
