"""Anthropic Messages request -> unified OpenAI-chat request (with [FIX]es).

One linear pass that builds new containers and reuses untouched leaves (schemas, text blocks),
so it neither mutates nor deep-copies bodies that can be hundreds of KB. Unset values are
omitted rather than sent as null: several providers reject `"temperature": null`.
Anthropic-only fields (metadata, context_management, output_config, service_tier, container,
mcp_servers, betas, thinking) are dropped simply by never being copied.
"""

from __future__ import annotations

from typing import Any

from ...shapes.anthropic import AnthropicRequest, ToolChoiceParam, ToolParam
from ...shapes.unified import Effort, FunctionSpec, Reasoning, ToolChoice, UnifiedMessage, UnifiedRequest, UnifiedTool
from ..shared.effort import as_effort
from .content import convert_messages, system_message

_COPIED = ("model", "max_tokens", "temperature", "top_p", "top_k")
_MAX_STOP = 4  # OpenAI rejects more than four stop sequences.


def anthropic_to_unified(body: AnthropicRequest) -> UnifiedRequest:
    """Convert a client's Anthropic request body into the unified request (a new dict)."""
    messages: list[UnifiedMessage] = []
    system = body.get("system")
    if system:  # "" and [] produce no message
        first = system_message(system)
        if first is not None:
            messages.append(first)
    if isinstance(body.get("messages"), list):
        convert_messages(body["messages"], messages)

    result: UnifiedRequest = {"messages": messages}
    for key in _COPIED:
        if body.get(key) is not None:
            result[key] = body[key]  # type: ignore[literal-required]  # both shapes declare these keys alike
    result["stream"] = bool(body.get("stream"))

    stop = body.get("stop_sequences")
    if isinstance(stop, list) and stop:
        result["stop"] = stop[:_MAX_STOP]

    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        result["tools"] = [convert_tool(tool) for tool in tools if isinstance(tool, dict)]

    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        mapped = convert_tool_choice(choice)
        if mapped is not None:
            result["tool_choice"] = mapped
        if choice.get("disable_parallel_tool_use"):
            result["parallel_tool_calls"] = False

    reasoning = convert_thinking(body.get("thinking"), body.get("output_config"))
    if reasoning is not None:
        result["reasoning"] = reasoning
    return result


def convert_tool(tool: ToolParam) -> UnifiedTool:
    """Client tool -> function with its schema verbatim; server tool -> tagged function."""
    kind = tool.get("type")
    if kind and kind != "custom":
        # Server tools (web_search_20250305, ...) carry no schema; the original type is kept so
        # provider transformers can map them (googleSearch, ...) or drop them.
        name = tool.get("name") or kind.rsplit("_", 1)[0]
        function: FunctionSpec = {"name": name, "description": tool.get("description") or ""}
        if tool.get("input_schema") is not None:
            function["parameters"] = tool["input_schema"]
        return {"type": "function", "function": function, "server_tool_type": kind}
    function = {"name": tool.get("name") or "", "description": tool.get("description") or ""}
    if tool.get("input_schema") is not None:
        function["parameters"] = tool["input_schema"]
    return {"type": "function", "function": function}


def convert_tool_choice(choice: ToolChoiceParam) -> ToolChoice | None:
    """[FIX] `any` becomes OpenAI's `required`; unknown types are left unset."""
    kind = choice.get("type")
    if kind == "auto":
        return "auto"
    if kind == "any":
        return "required"
    if kind == "none":
        return "none"
    if kind == "tool" and choice.get("name"):
        return {"type": "function", "function": {"name": choice["name"]}}
    return None


def effort_for_budget(budget: int) -> Effort:
    if budget <= 0:
        return "none"
    if budget <= 1024:
        return "low"
    if budget <= 8192:
        return "medium"
    return "high"


def convert_thinking(thinking: Any, output_config: Any = None) -> Reasoning | None:
    """[FIX] disabled -> no reasoning at all, so downstream never turns it back on. The effort
    is the client's `output_config.effort` (low/medium/high/xhigh/max: what `/effort` sets),
    else the budget's level, else medium."""
    if not isinstance(thinking, dict):
        return None
    kind = thinking.get("type")
    if kind == "disabled":
        return None
    asked = output_config.get("effort") if isinstance(output_config, dict) else None
    effort = as_effort(asked.lower()) if isinstance(asked, str) else None
    effort = None if effort == "none" else effort  # not one of Claude Code's levels
    budget = thinking.get("budget_tokens")
    if kind == "enabled" and isinstance(budget, int) and not isinstance(budget, bool):
        return {"effort": effort or effort_for_budget(budget), "enabled": True, "max_tokens": budget}
    # adaptive, enabled without a budget, and types newer than this code.
    return {"effort": effort or "medium", "enabled": True}
