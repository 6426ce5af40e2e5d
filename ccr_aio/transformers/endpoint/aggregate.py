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
from ..shared.chunks import new_completion
from .mappings import ended_early, error_status


class _ToolCall:
    __slots__ = ("id", "name", "args")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.args: list[str] = []


class _Fold:
    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created: int | None = None
        self.usage: dict[str, Any] | None = None
        self.text: list[str] = []
        self.thinking: list[str] = []
        self.signature: str | None = None
        self.annotations: list[Any] = []
        self.tools: dict[Any, _ToolCall] = {}
        self.last_tool_key: Any = None
        self.finish_reason: str | None = None

    def add(self, chunk: dict[str, Any]) -> None:
        if chunk.get("error") is not None:
            status = error_status(chunk["error"]) or 500
            raise ApiError(status if 400 <= status < 600 else 500, _error_message(chunk["error"]))
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

    def _add_delta(self, delta: dict[str, Any]) -> None:
        thinking = delta.get("thinking")
        if isinstance(thinking, dict):
            if thinking.get("content"):
                self.thinking.append(thinking["content"])
            if thinking.get("signature"):
                self.signature = thinking["signature"]
        if isinstance(delta.get("content"), str):
            self.text.append(delta["content"])
        if isinstance(delta.get("annotations"), list):
            self.annotations.extend(delta["annotations"])
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                self._add_tool_call(call)

    def _add_tool_call(self, call: dict[str, Any]) -> None:
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
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            tool.args.append(arguments)
        elif arguments is not None:
            tool.args.append(dumps(arguments))

    def result(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.text) or None}
        if self.tools:
            now = int(time.time() * 1000)
            message["tool_calls"] = [
                {
                    "id": tool.id or f"call_{now}_{n}",
                    "type": "function",
                    "function": {"name": tool.name, "arguments": "".join(tool.args)},
                }
                for n, tool in enumerate(self.tools.values())
            ]
        if self.thinking or self.signature:
            thinking: dict[str, Any] = {"content": "".join(self.thinking)}
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
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return error if isinstance(error, str) else dumps(error)


async def aggregate_chunks(chunks: AsyncIterator[dict[str, Any]], provider: str = "") -> dict[str, Any]:
    """Fold unified stream chunks into one non-streaming unified chat.completion.

    An error chunk raises ApiError with the upstream's message (and status, 500 if it names
    none), and a stream without a
    finish_reason ApiError(502) naming `provider`: a JSON client cannot be given a half answer.
    """
    fold = _Fold()
    async for chunk in chunks:
        if isinstance(chunk, dict):
            fold.add(chunk)
    if fold.finish_reason is None:
        raise ApiError(502, ended_early(provider))
    return fold.result()
