"""Anthropic events → one Anthropic message: what the main model said in one round.

The agent needs the round as a whole (its tool calls, and the assistant turn to replay in the
continuation request, thinking signatures included) while the events themselves go on to the
client as they arrive.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, cast

from ..errors import ERROR_TYPES, ApiError
from ..shapes.anthropic import AnthropicMessage, AnthropicUsage, ContentBlock, StopReason
from ..transformers.shared.json_args import parse_arguments

_STATUS_OF: dict[str, int] = {kind: status for status, kind in sorted(ERROR_TYPES.items(), reverse=True)}
_DELTA_FIELDS = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}


class Turn:
    def __init__(self) -> None:
        self.start: dict[str, Any] = {}
        # Keyed by the events' `index` as sent (an int, from a well-formed stream).
        self.blocks: dict[Any, dict[str, Any]] = {}
        self.parts: dict[Any, list[str]] = {}
        self.stop_reason: StopReason | None = None
        self.stop_sequence: str | None = None
        self.usage: dict[str, Any] = {}
        self.error: dict[str, Any] | None = None

    def add(self, event: Mapping[str, Any]) -> None:
        """Read defensively: a passthrough provider's events come as it sent them."""
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            index = event.get("index")
            field = _DELTA_FIELDS.get(str(delta.get("type")))
            if field and isinstance(delta.get(field), str):
                self.parts.setdefault(index, []).append(delta[field])
            elif delta.get("type") == "signature_delta" and index in self.blocks:
                self.blocks[index]["signature"] = delta.get("signature") or ""
        elif kind == "content_block_start":
            self.blocks[event.get("index")] = dict(event.get("content_block") or {})
        elif kind == "message_start":
            self.start = event.get("message") or {}
            self.usage.update(self.start.get("usage") or {})
        elif kind == "message_delta":
            delta = event.get("delta") or {}
            self.stop_reason = delta.get("stop_reason")
            self.stop_sequence = delta.get("stop_sequence")
            self.usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        elif kind == "error":
            self.error = event.get("error") if isinstance(event.get("error"), dict) else {"message": str(event)}

    def content(self) -> list[dict[str, Any]]:
        blocks = []
        for index in sorted(self.blocks):
            block = self.blocks[index]
            joined = "".join(self.parts.get(index, ()))
            kind = block.get("type")
            if kind == "text":
                block = {**block, "text": (block.get("text") or "") + joined}
            elif kind == "thinking":
                block = {**block, "thinking": (block.get("thinking") or "") + joined}
            elif kind in ("tool_use", "server_tool_use") and joined:
                parsed = parse_arguments(joined)
                block = {**block, "input": parsed if parsed is not None else {"text": joined}}
            blocks.append(block)
        return blocks

    def tool_uses(self) -> list[dict[str, Any]]:
        return [b for b in self.content() if b.get("type") == "tool_use"]

    def raise_error(self) -> None:
        if self.error is not None:
            kind = self.error.get("type") or "api_error"
            message = self.error.get("message") or "Provider error"
            raise ApiError(_STATUS_OF.get(kind, 502), str(message), kind)

    def message(self) -> AnthropicMessage:
        """The round as a non-streaming message; an error event raises ApiError."""
        self.raise_error()
        return {
            "id": self.start.get("id") or f"msg_{uuid.uuid4().hex}",
            "type": "message",
            "role": "assistant",
            "model": self.start.get("model") or "unknown",
            "content": cast(list[ContentBlock], self.content()),  # the blocks as sent, completed
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "usage": cast(AnthropicUsage, dict(self.usage)),  # the counts as the events reported them
        }
