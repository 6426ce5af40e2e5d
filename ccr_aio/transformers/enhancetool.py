"""`enhancetool`: make tool-call arguments valid JSON objects (transformers.md §3.9, with its
[FIX]es).

Non-stream: every tool call's arguments go through `repair_arguments`.

Stream: a tool call is announced as soon as it starts (id and name, arguments blanked) so the
client can show it; its arguments are held back and sent repaired, in one delta, when the call
is complete: when another call starts, when text follows, on ANY finish reason, or at the end
of the stream. Every entry of a delta's `tool_calls` is handled, and a missing `index` is
tolerated (`ToolKeys`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ._chunks import ToolKeys, derive, first_choice
from ._json_args import repair_arguments
from .base import Context, Transformer, builtin


class _Call:
    """The tool call whose arguments are being held back."""

    __slots__ = ("key", "id", "name", "args")

    def __init__(self, key: int, call: dict[str, Any]) -> None:
        self.key = key
        self.id: Any = None
        self.name: Any = None
        self.args: list[str] = []
        self.add(call)

    def add(self, call: dict[str, Any]) -> None:
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        self.id = self.id or call.get("id")
        self.name = self.name or function.get("name")
        args = function.get("arguments")
        if isinstance(args, str):
            self.args.append(args)
        elif isinstance(args, dict):
            self.args.append(repair_arguments(args))

    def announce(self, call: dict[str, Any]) -> dict[str, Any]:
        """The first delta of the call, forwarded at once with its arguments blanked."""
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        return {**call, "index": self.key, "function": {**function, "arguments": ""}}

    def completed(self) -> dict[str, Any]:
        function: dict[str, Any] = {"arguments": repair_arguments("".join(self.args))}
        if self.name:
            function["name"] = self.name
        call: dict[str, Any] = {"function": function, "index": self.key, "type": "function"}
        if self.id:
            call["id"] = self.id
        return {"role": "assistant", "tool_calls": [call]}


def _has_output(delta: dict[str, Any]) -> bool:
    """Text, thinking, ... (anything but the role): it follows a tool call that is complete."""
    return any(value for key, value in delta.items() if key != "role")


@builtin
class EnhanceTool(Transformer):
    name = "enhancetool"

    def json_out(self, body: dict[str, Any], ctx: Context) -> dict[str, Any]:
        choice = first_choice(body)
        message = choice.get("message") if choice else None
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        if not calls or not isinstance(calls, list):
            return body
        repaired = []
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                function = {**function, "arguments": repair_arguments(function.get("arguments"))}
                call = {**call, "function": function}
            repaired.append(call)
        new_choice = {**choice, "message": {**message, "tool_calls": repaired}}
        return {**body, "choices": [new_choice, *body["choices"][1:]]}

    async def stream_out(self, chunks: AsyncIterator[dict], ctx: Context) -> AsyncIterator[dict]:
        keys = ToolKeys()
        current: _Call | None = None
        last: tuple[dict, dict] | None = None
        async for chunk in chunks:
            choice = first_choice(chunk)
            if choice is None:
                yield chunk
                continue
            last = (chunk, choice)
            delta = choice.get("delta")
            delta = delta if isinstance(delta, dict) else {}
            calls = delta.get("tool_calls")
            calls = calls if isinstance(calls, list) else []
            finish = choice.get("finish_reason")
            rest = {k: v for k, v in delta.items() if k != "tool_calls"} if calls else delta
            if current is None and not calls:
                yield chunk
                continue
            if current is not None and not calls and not finish and not _has_output(rest):
                yield chunk  # e.g. a role-only or empty delta: nothing to reorder
                continue
            pieces: list[dict[str, Any]] = []
            if current is not None and _has_output(rest):
                pieces.append(current.completed())
                current = None
            pending, starts = rest, []
            for call in calls:
                if not isinstance(call, dict):
                    continue
                key = keys.key(call)
                if current is not None and key == current.key:
                    current.add(call)
                    continue
                if current is not None:
                    if starts:
                        pieces.append({**pending, "tool_calls": starts})
                        pending, starts = {}, []
                    pieces.append(current.completed())
                current = _Call(key, call)
                starts.append(current.announce(call))
            pieces.append({**pending, "tool_calls": starts} if starts else pending)
            if finish and current is not None:
                pieces.append(current.completed())
                current = None
            for out in derive(chunk, choice, pieces, finish):
                yield out
        if current is not None and last is not None:  # no finish chunk: flush at the end
            for out in derive(*last, [current.completed()], None, tail=False):
                yield out
