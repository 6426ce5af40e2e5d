"""The OpenAI-chat shape of what a provider sends, checked where it enters the pipeline.

Transformers and converters read `choices[i].delta` (or `.message`) and each tool call's
`function` as objects, and a tool call's `index` as a dict key. A provider that sends another
shape (a string delta, a list as index) used to crash them into a 500, or an "Internal server
error" event. Such a chunk is the provider's fault and its content is lost, so the answer ends
with a 502 naming the provider: once streaming has started that is an SSE error event without
message_stop, so a cut answer never looks complete. Shapes the converters already read leniently
(content as a list, arguments as an object, unknown fields) are left alone, and chunks without
`choices` (usage and error chunks, Gemini or Responses events before their transformer) pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ApiError
from ..inputs.json_body import json_kind
from ..shapes.unified import ProviderBody


def shape_problem(body: Mapping[str, Any], part: str = "delta") -> str | None:
    """What is wrong with a chunk (`part="delta"`) or a whole answer (`part="message"`)."""
    choices = body.get("choices")
    if choices is None:
        return None
    if type(choices) is not list:
        return f"choices must be an array, got {json_kind(choices)}"
    for i, choice in enumerate(choices):
        if type(choice) is not dict:
            return f"choices[{i}] must be an object, got {json_kind(choice)}"
        content = choice.get(part)
        if content is None:
            continue
        if type(content) is not dict:
            return f"choices[{i}].{part} must be an object, got {json_kind(content)}"
        calls = content.get("tool_calls")
        if calls is not None:
            problem = _tool_calls_problem(calls)
            if problem:
                return f"choices[{i}].{part}.tool_calls{problem}"
    return None


def _tool_calls_problem(calls: Any) -> str | None:
    if type(calls) is not list:
        return f" must be an array, got {json_kind(calls)}"
    for j, call in enumerate(calls):
        if type(call) is not dict:
            return f"[{j}] must be an object, got {json_kind(call)}"
        index = call.get("index")
        if index is not None and type(index) is not int and type(index) is not str:
            return f"[{j}].index must be an integer, got {json_kind(index)}"
        function = call.get("function")
        if function is None:
            continue
        if type(function) is not dict:
            return f"[{j}].function must be an object, got {json_kind(function)}"
        name = function.get("name")
        if name is not None and type(name) is not str:
            return f"[{j}].function.name must be a string, got {json_kind(name)}"
    return None


def chunk_check(provider: str) -> Callable[[Mapping[str, Any]], None]:
    """A check for each chunk as it is parsed: ApiError(502) at the first malformed one."""

    def check(chunk: Mapping[str, Any]) -> None:
        problem = shape_problem(chunk)
        if problem:
            raise ApiError(502, f"Provider {provider} sent a malformed stream chunk: {problem}")

    return check


def check_answer(body: ProviderBody, provider: str) -> None:
    problem = shape_problem(body, "message")
    if problem:
        raise ApiError(502, f"Provider {provider} returned a malformed answer: {problem}")
