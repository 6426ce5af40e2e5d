"""`tooluse`: force tool calling on models that under-use tools, with `ExitTool` as the way out
(with its [FIX]es).

Request: when the request has tools, `tool_choice` becomes "required", an `ExitTool` tool is
added and a system reminder explains it. Without tools nothing changes (the reference adds the
reminder anyway). An explicit `tool_choice` of "none" or a named function is left alone.

Response: an ExitTool call, at any position, becomes plain assistant text (its `response`
argument) and the finish reason becomes "stop" unless real tool calls remain. In a stream the
text is decoded from the partial arguments and forwarded as it arrives; finish and usage chunks
are always forwarded.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from ...shapes.unified import (
    ChunkChoice,
    CompletionChoice,
    ToolCall,
    ProviderBody,
    UnifiedChunk,
    UnifiedCompletion,
    UnifiedMessage,
    UnifiedRequest,
)
from ..base import Context, ProviderInfo, Transformer, builtin
from ..shared.chunks import ToolKeys, derive, first_choice
from ..shared.json_args import parse_arguments
from .partial_json import StringFieldStream

EXIT_TOOL = "ExitTool"

# The reference wording, kept verbatim: models tuned on CCR prompts have seen it.
REMINDER = (
    "<system-reminder>Tool mode is active. The user expects you to proactively execute the most suitable tool "
    "to help complete the task. \nBefore invoking a tool, you must carefully evaluate whether it matches the "
    "current task. If no available tool is appropriate for the task, you MUST call the `ExitTool` to exit tool "
    "mode — this is the only valid way to terminate tool mode.\nAlways prioritize completing the user's task "
    "effectively and efficiently by using tools whenever appropriate.</system-reminder>"
)

EXIT_TOOL_SPEC: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": EXIT_TOOL,
        "description": (
            "Use this tool when you are in tool mode and have completed the task. This is the only valid way to "
            "exit tool mode.\nIMPORTANT: Before using this tool, ensure that none of the available tools are "
            "applicable to the current task. You must evaluate all available options — only if no suitable tool "
            "can help you complete the task should you use ExitTool to terminate tool mode.\nExamples:\n"
            '1. Task: "Use a tool to summarize this document" — Do not use ExitTool if a summarization tool is '
            'available.\n2. Task: "What\'s the weather today?" — If no tool is available to answer, use ExitTool '
            "after reasoning that none can fulfill the task."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "response": {
                    "type": "string",
                    "description": (
                        "Your response will be forwarded to the user exactly as returned — the tool will not "
                        "modify or post-process it in any way."
                    ),
                }
            },
            "required": ["response"],
        },
    },
}


def exit_response(arguments: Any) -> str:
    """The text an ExitTool call answers with: its `response`, tolerantly parsed."""
    parsed = parse_arguments(arguments)
    if parsed is None:  # not even repairable: the raw text beats losing the answer
        return arguments.strip() if isinstance(arguments, str) else ""
    response = parsed.get("response")
    if response is None:
        return ""
    # Text for the reader, not wire JSON: Python's spaced layout, so not `jsonutil.dumps`.
    return response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)


def _is_exit(call: Any) -> bool:
    return isinstance(call, dict) and isinstance(call.get("function"), dict) and call["function"].get("name") == EXIT_TOOL


def _join(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)


class _Exit:
    """One ExitTool call of a stream: its arguments and the text already forwarded."""

    __slots__ = ("args", "field", "sent", "flushed")

    def __init__(self) -> None:
        self.args: list[str] = []
        self.field = StringFieldStream("response")
        self.sent = ""
        self.flushed = False

    def feed(self, fragment: str) -> str:
        self.args.append(fragment)
        text = self.field.feed(fragment)
        self.sent += text
        return text

    def flush(self) -> str:
        """What is left of the answer once the arguments are complete."""
        if self.flushed:
            return ""
        self.flushed = True
        full = exit_response("".join(self.args))
        if full.startswith(self.sent):
            return full[len(self.sent) :]
        return "" if self.sent else full  # the streamed text disagrees: keep what was sent


@builtin
class ToolUse(Transformer):
    name = "tooluse"

    async def request_in(self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context) -> ProviderBody:
        tools = request.get("tools")
        choice = request.get("tool_choice")
        if not tools or not isinstance(tools, list) or choice == "none" or isinstance(choice, dict):
            return request
        if any(_is_exit(tool) for tool in tools):
            return request
        messages = request.get("messages") or []
        return {
            **request,
            "messages": [*messages, {"role": "system", "content": REMINDER}],
            "tools": [*tools, EXIT_TOOL_SPEC],
            "tool_choice": "required",
        }

    def json_out(self, body: UnifiedCompletion, ctx: Context) -> UnifiedCompletion:
        choice = first_choice(body)
        message = choice.get("message") if choice else None
        if choice is None or not isinstance(message, dict):
            return body
        calls = message.get("tool_calls")
        if not calls or not isinstance(calls, list) or not any(_is_exit(call) for call in calls):
            return body
        answers = [exit_response(call["function"].get("arguments")) for call in calls if _is_exit(call)]
        kept = [call for call in calls if not _is_exit(call)]
        content = message.get("content")
        text = _join(content if isinstance(content, str) else "", *answers)
        new_message: UnifiedMessage = {**message, "content": text}
        new_choice: CompletionChoice = {**choice, "message": new_message}
        if kept:
            new_message["tool_calls"] = kept
        else:
            new_message.pop("tool_calls")
            if choice.get("finish_reason") in (None, "tool_calls"):
                new_choice["finish_reason"] = "stop"
        return {**body, "choices": [new_choice, *body["choices"][1:]]}

    async def stream_out(self, chunks: AsyncIterator[UnifiedChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
        keys = ToolKeys()
        exits: dict[int, _Exit] = {}
        real_tools = False
        text_sent = False  # text already went out: the answer starts a new paragraph
        answering = False  # some of the ExitTool answer went out
        last: tuple[UnifiedChunk, ChunkChoice] | None = None
        async for chunk in chunks:
            choice = first_choice(chunk)
            if choice is None:
                yield chunk
                continue
            last = (chunk, choice)
            delta = choice.get("delta")
            delta = delta if isinstance(delta, dict) else {}
            calls = delta.get("tool_calls")
            finish = choice.get("finish_reason")
            if not (calls and isinstance(calls, list)) and not (finish and exits):
                text_sent = text_sent or bool(delta.get("content"))
                yield chunk
                continue
            kept: list[ToolCall] = []
            answer: list[str] = []
            for call in calls if isinstance(calls, list) else ():
                key = keys.key(call) if isinstance(call, dict) else None
                if _is_exit(call) and key not in exits:  # some upstreams repeat the name in every delta
                    exits[key] = _Exit()
                state = exits.get(key)
                if state is None:
                    kept.append(call)
                    real_tools = True
                    continue
                args = (call.get("function") or {}).get("arguments")
                if isinstance(args, str) and args:
                    answer.append(state.feed(args))
            if not (finish and exits) and isinstance(calls, list) and len(kept) == len(calls):  # no ExitTool in sight
                text_sent = text_sent or bool(delta.get("content"))
                yield chunk
                continue
            if finish:
                answer.extend(state.flush() for state in exits.values())
                if exits and not real_tools and finish == "tool_calls":
                    finish = "stop"
            new_delta = delta.copy()
            new_delta.pop("tool_calls", None)
            if kept:
                new_delta["tool_calls"] = kept
            text = "".join(answer)
            if text:
                content = new_delta.get("content")
                before = content if isinstance(content, str) else ""
                separate = not answering and (text_sent or before)
                new_delta["content"] = before + ("\n\n" if separate else "") + text
                answering = True
            text_sent = text_sent or bool(new_delta.get("content"))
            for out in derive(chunk, choice, [new_delta], finish):
                yield out
        rest = "".join(state.flush() for state in exits.values())
        if rest and last is not None:  # no finish chunk came: the answer still gets out
            rest = ("\n\n" if text_sent and not answering else "") + rest
            for out in derive(*last, [{"content": rest}], None, tail=False):
                yield out
