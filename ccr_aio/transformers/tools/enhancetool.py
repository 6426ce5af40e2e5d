"""`enhancetool`: make tool-call arguments valid JSON objects (with its
[FIX]es).

Non-stream: every tool call's arguments go through `repair_arguments`.

Stream: a tool call is announced as soon as it starts (id and name, arguments blanked) so the
client can show it; the arguments of every call are held back and sent repaired, one delta per
call, on ANY finish reason or at the end of the stream. Only then is a call known to be
complete: providers may interleave parallel calls or put text between fragments, and a repair
sent early could not be taken back. Every entry of a delta's `tool_calls` is handled, and a
missing `index` is tolerated (`ToolKeys`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ...shapes.unified import (
    ChunkChoice,
    CompletionChoice,
    Delta,
    FunctionCall,
    ToolCall,
    UnifiedChunk,
    UnifiedCompletion,
)
from ..base import Context, Transformer, builtin
from ..shared.chunks import ToolKeys, derive, first_choice
from ..shared.json_args import repair_arguments


class _Call:
    """The tool call whose arguments are being held back."""

    __slots__ = ("key", "id", "name", "args")

    def __init__(self, key: int, call: ToolCall) -> None:
        self.key = key
        self.id: str | None = None
        self.name: str | None = None
        self.args: list[str] = []
        self.add(call)

    def add(self, call: ToolCall) -> None:
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        self.id = self.id or call.get("id")
        self.name = self.name or function.get("name")
        args = function.get("arguments")
        if isinstance(args, str):
            self.args.append(args)
        elif isinstance(args, dict):
            self.args.append(repair_arguments(args))

    def announce(self, call: ToolCall) -> ToolCall:
        """The first delta of the call, forwarded at once with its arguments blanked."""
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        return {**call, "index": self.key, "function": {**function, "arguments": ""}}

    def completed(self) -> Delta:
        function: FunctionCall = {"arguments": repair_arguments("".join(self.args))}
        if self.name:
            function["name"] = self.name
        call: ToolCall = {"function": function, "index": self.key, "type": "function"}
        if self.id:
            call["id"] = self.id
        return {"role": "assistant", "tool_calls": [call]}


@builtin
class EnhanceTool(Transformer):
    name = "enhancetool"

    def json_out(self, body: UnifiedCompletion, ctx: Context) -> UnifiedCompletion:
        choice = first_choice(body)
        message = choice.get("message") if choice else None
        if choice is None or not isinstance(message, dict):
            return body
        calls = message.get("tool_calls")
        if not calls or not isinstance(calls, list):
            return body
        repaired = []
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                function = {**function, "arguments": repair_arguments(function.get("arguments"))}
                call = {**call, "function": function}
            repaired.append(call)
        new_choice: CompletionChoice = {**choice, "message": {**message, "tool_calls": repaired}}
        return {**body, "choices": [new_choice, *body["choices"][1:]]}

    async def stream_out(self, chunks: AsyncIterator[UnifiedChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
        keys = ToolKeys()
        calls: dict[int, _Call] = {}  # every call of the turn, in order of appearance
        last: tuple[UnifiedChunk, ChunkChoice] | None = None
        async for chunk in chunks:
            choice = first_choice(chunk)
            if choice is None:
                yield chunk
                continue
            last = (chunk, choice)
            delta = choice.get("delta")
            delta = delta if isinstance(delta, dict) else {}
            entries = delta.get("tool_calls")
            finish = choice.get("finish_reason")
            if not (entries and isinstance(entries, list)) and not (finish and calls):
                yield chunk
                continue
            starts = []
            for entry in entries if isinstance(entries, list) else []:
                if not isinstance(entry, dict):
                    continue
                key = keys.key(entry)
                if key in calls:
                    calls[key].add(entry)
                else:
                    calls[key] = _Call(key, entry)
                    starts.append(calls[key].announce(entry))
            rest = delta.copy()
            rest.pop("tool_calls", None)
            pieces = [{**rest, "tool_calls": starts} if starts else rest]
            if finish:
                pieces += [call.completed() for call in calls.values()]
                calls.clear()
            for out in derive(chunk, choice, pieces, finish):
                yield out
        if calls and last is not None:  # no finish chunk: flush at the end
            for out in derive(*last, [call.completed() for call in calls.values()], None, tail=False):
                yield out
