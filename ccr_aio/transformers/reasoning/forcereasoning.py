"""`forcereasoning`: make a model without native reasoning think inside
`<reasoning_content>` tags, and turn those tags into thinking blocks.

Request: earlier turns' thinking is written back inline as tags (the newest ten, and any turn
whose answer is empty), the `thinking` extension is dropped, and an instruction to reason in
tags is added to the last turn. Response: the shared tag state machine, with the [FIX]es.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ...shapes.unified import ProviderBody, UnifiedChunk, UnifiedCompletion, UnifiedRequest
from ..base import Context, ProviderInfo, Transformer, builtin
from .tags import split_message, tag_stream

START, END = "<reasoning_content>", "</reasoning_content>"
REPLAYED_TURNS = 10
PROMPT = (
    "Think step by step before you answer, every time, even when the task looks simple: "
    f"first write your complete reasoning inside {START}...{END}, "
    f"then write your final answer after the closing {END} tag."
)


def _with_reasoning(content: Any, reasoning: str) -> Any:
    prefix = f"{START}{reasoning}{END}\n"
    if isinstance(content, list):
        return [{"type": "text", "text": prefix}, *content]
    return prefix + (content if isinstance(content, str) else "")


def _is_empty(content: Any) -> bool:
    return not content or (isinstance(content, str) and not content.strip())


def inline_thinking(messages: list[Any]) -> list[Any]:
    """Assistant `thinking` -> tags in the content, newest first; `thinking` always removed."""
    out = list(messages)
    rewritten = 0
    for position in range(len(out) - 1, -1, -1):
        message = out[position]
        if not isinstance(message, dict) or message.get("role") != "assistant" or "thinking" not in message:
            continue
        thinking = message["thinking"]
        message = {key: value for key, value in message.items() if key != "thinking"}
        reasoning = thinking.get("content") if isinstance(thinking, dict) else None
        replay = _is_empty(message.get("content")) or rewritten < REPLAYED_TURNS
        if reasoning and isinstance(reasoning, str) and replay:
            message["content"] = _with_reasoning(message.get("content"), reasoning)
            rewritten += 1
        out[position] = message
    return out


def add_prompt(messages: list[Any]) -> list[Any]:
    """The instruction goes on the last turn: after a user's parts, before a user's plain
    string, or as a new user turn after tool results."""
    if not messages or not isinstance(messages[-1], dict):
        return messages
    last = messages[-1]
    prompt = {"type": "text", "text": PROMPT}
    if last.get("role") == "user" and isinstance(last.get("content"), list):
        return [*messages[:-1], {**last, "content": [*last["content"], prompt]}]
    if last.get("role") == "user" and isinstance(last.get("content"), str):
        return [*messages[:-1], {**last, "content": [prompt, {"type": "text", "text": last["content"]}]}]
    if last.get("role") == "tool":
        return [*messages, {"role": "user", "content": [prompt]}]
    return messages


@builtin
class ForceReasoning(Transformer):
    name = "forcereasoning"

    async def request_in(self, request: UnifiedRequest, provider: ProviderInfo, ctx: Context) -> ProviderBody:
        if not isinstance(request.get("messages"), list):
            return request
        return {**request, "messages": add_prompt(inline_thinking(request["messages"]))}

    def stream_out(self, chunks: AsyncIterator[UnifiedChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
        return tag_stream(chunks, START, END, ctx)

    def json_out(self, body: UnifiedCompletion, ctx: Context) -> UnifiedCompletion:
        return split_message(body, START, END, ctx)
