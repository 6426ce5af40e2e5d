"""Fold a stream of unified chunks into one unified chat.completion ([FIX]).

Used when the client asked for JSON but the upstream streamed anyway. Follows the same rules
as the stream converter's fixes: every chunk is processed until EOF (B1), the last non-empty
usage wins wherever it appears (B2), and duplicate tool-call entries for one index
concatenate their arguments (B6). A stream that ends without any finish_reason was cut short:
it is an error, never a complete-looking answer.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from ...errors import ApiError
from ...jsonutil import dumps
from ...shapes.unified import (
    Annotation,
    Delta,
    Thinking,
    ToolCall,
    UnifiedChunk,
    UnifiedCompletion,
    UnifiedMessage,
    Usage,
)
from ..shared.chunks import new_completion
from ..shared.tool_signatures import signature_of, with_signature
from .mappings import ended_early, upstream_error_status


class _ToolCall:
    __slots__ = ("id", "name", "signature", "args")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.signature: str | None = None
        self.args: list[str] = []


class _Fold:
    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created: int | None = None
        self.usage: Usage | None = None
        self.text: list[str] = []
        self.thinking: list[str] = []
        self.signature: str | None = None
        self.annotations: list[Annotation] = []
        self.tools: dict[int, _ToolCall] = {}
        self.last_tool_key: int | None = None
        self.finish_reason: str | None = None

    def add(self, chunk: UnifiedChunk) -> None:
        if chunk.get("error") is not None:
            # The status the error stands for, as a streaming client gets it in the error event.
            raise ApiError(upstream_error_status(chunk["error"]) or 500, _error_message(chunk["error"]))
        self.id = self.id or chunk.get("id") or ""
        self.model = chunk.get("model") or self.model
        self.created = self.created or chunk.get("created")
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return
        choice = choices[0]
        delta = choice.get("delta")
        if isinstance(delta, dict):
            self._add_delta(delta)
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]

    def _add_delta(self, delta: Delta) -> None:
        thinking = delta.get("thinking")
        if isinstance(thinking, dict):
            if thinking.get("content"):
                self.thinking.append(thinking["content"])
            if thinking.get("signature"):
                self.signature = thinking["signature"]
        content = delta.get("content")
        if isinstance(content, str):
            self.text.append(content)
        if isinstance(delta.get("annotations"), list):
            self.annotations.extend(delta["annotations"])
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                self._add_tool_call(call)

    def _add_tool_call(self, call: ToolCall) -> None:
        key = call.get("index")
        if key is None:
            # Without an index, a new id starts a new call; anything else continues the last one.
            new_id = call.get("id") and all(t.id != call["id"] for t in self.tools.values())
            key = len(self.tools) if new_id or self.last_tool_key is None else self.last_tool_key
        tool = self.tools.get(key)
        if tool is None:
            tool = self.tools[key] = _ToolCall()
        self.last_tool_key = key
        tool.id = tool.id or call.get("id") or ""
        function = call.get("function") or {}
        # Some providers repeat the full name on every fragment: never concatenate names.
        tool.name = tool.name or function.get("name") or ""
        tool.signature = tool.signature or signature_of(call)
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            tool.args.append(arguments)
        elif arguments is not None:
            tool.args.append(dumps(arguments))

    def result(self) -> UnifiedCompletion:
        message: UnifiedMessage = {"role": "assistant", "content": "".join(self.text) or None}
        if self.tools:
            now = int(time.time() * 1000)
            message["tool_calls"] = [
                with_signature(
                    {
                        "id": tool.id or f"call_{now}_{n}",
                        "type": "function",
                        "function": {"name": tool.name, "arguments": "".join(tool.args)},
                    },
                    tool.signature,
                )
                for n, tool in enumerate(self.tools.values())
            ]
        if self.thinking or self.signature:
            thinking: Thinking = {"content": "".join(self.thinking)}
            if self.signature:
                thinking["signature"] = self.signature
            message["thinking"] = thinking
        if self.annotations:
            message["annotations"] = self.annotations
        return new_completion(
            self.id or f"chatcmpl-{int(time.time() * 1000)}",
            self.created or int(time.time()),
            self.model,
            message,
            self.finish_reason,
            self.usage,
        )


def _error_message(error: Any) -> str:
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, str):
        return message
    return error if isinstance(error, str) else dumps(error)


async def aggregate_chunks(chunks: AsyncIterator[UnifiedChunk], provider: str = "") -> UnifiedCompletion:
    """Fold unified stream chunks into one non-streaming unified chat.completion.

    An error chunk raises ApiError with the upstream's message and the status it stands for
    (500 when it names none), and a stream without a finish_reason ApiError(502) naming
    `provider`: a JSON client cannot be given a half answer.
    """
    fold = _Fold()
    async for chunk in chunks:
        if isinstance(chunk, dict):
            fold.add(chunk)
    if fold.finish_reason is None:
        raise ApiError(502, ended_early(provider))
    return fold.result()
