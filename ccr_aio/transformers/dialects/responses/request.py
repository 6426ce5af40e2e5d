"""Unified (OpenAI chat) request -> OpenAI Responses API request (with [FIX]es).

A new body is built: the unified body's text parts and tool schemas are shared with the
client's request, so nothing here mutates what it reads. Keys this module does not know
(added by other transformers: `store`, `metadata`, `service_tier`, ...) pass through.
"""

from __future__ import annotations

from typing import Any

from ....jsonutil import dumps
from ....shapes.unified import UnifiedRequest
from ...shared.effort import capped_effort, effort_of
from .common import encrypted_reasoning

# Chat-only keys the Responses API rejects, and keys rebuilt below. `temperature` is dropped as
# the reference does: reasoning models (what this upstream is used for) reject it.
_NOT_COPIED = frozenset(
    {"messages", "max_tokens", "max_completion_tokens", "temperature", "top_k", "stop", "stream_options",
     "reasoning", "tools", "tool_choice", "parallel_tool_calls"}
)
_EDIT_REQUIRED = ("file_path", "old_string", "new_string", "replace_all")
_MIN_OUTPUT_TOKENS = 16  # the API rejects smaller max_output_tokens (Claude Code probes with 1)
_ENCRYPTED_REASONING = "reasoning.encrypted_content"


def unified_to_responses(body: UnifiedRequest, provider: str, parallel_tool_calls: bool = False) -> dict[str, Any]:
    """Convert a unified request into a Responses API request (a new dict)."""
    result: dict[str, Any] = {key: value for key, value in body.items() if key not in _NOT_COPIED}
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
        result["max_output_tokens"] = max(max_tokens, _MIN_OUTPUT_TOKENS)  # [FIX]: mapped, not deleted

    reasoning = convert_reasoning(body.get("reasoning"))
    if reasoning is not None:
        result["reasoning"] = reasoning
        if reasoning.get("effort") != "none":
            # Needed to replay reasoning on the next turn without server-side state (see
            # common.py); the API only returns it when asked.
            include = result.get("include")
            include = list(include) if isinstance(include, list) else []
            if _ENCRYPTED_REASONING not in include:
                include.append(_ENCRYPTED_REASONING)
            result["include"] = include

    messages = body.get("messages")
    instructions, items = convert_messages(messages if isinstance(messages, list) else [], provider)
    if instructions:
        result["instructions"] = instructions
    result["input"] = items

    tools, web_search = convert_tools(body.get("tools"))
    if tools:
        result["tools"] = tools
        choice = convert_tool_choice(body.get("tool_choice"), web_search)
        if choice is not None:
            result["tool_choice"] = choice
    result["parallel_tool_calls"] = parallel_tool_calls
    return result


def convert_reasoning(reasoning: Any) -> dict[str, Any] | None:
    """`{effort, enabled, max_tokens}` -> `{effort, summary:"detailed"}`; [FIX] none when disabled.
    The API takes low/medium/high: xhigh and max ask for its most, `high`."""
    if not isinstance(reasoning, dict) or reasoning.get("enabled") is False:
        return None
    result: dict[str, Any] = {}
    effort = effort_of(reasoning)
    if effort == "none":
        result["effort"] = "none"
    elif effort is not None:
        result["effort"] = capped_effort(effort)
    elif reasoning.get("effort"):
        result["effort"] = reasoning["effort"]
    result["summary"] = "detailed"
    return result


# -- messages -------------------------------------------------------------------------------


def convert_messages(messages: list[Any], provider: str) -> tuple[str | None, list[dict[str, Any]]]:
    """Unified messages -> (`instructions`, `input` items). A leading string system prompt becomes
    `instructions`; later system turns (current Claude Code sends one mid-conversation) stay in
    place as system items — never dropped."""
    instructions: str | None = None
    items: list[dict[str, Any]] = []
    seen_system = False
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        content = message.get("content")
        if role == "system":
            first = not seen_system
            seen_system = True
            if isinstance(content, str) and first:
                instructions = content
            elif isinstance(content, str):
                items.append({"role": "system", "content": content})
            elif isinstance(content, list):
                items.extend({"role": "system", "content": text} for text in _texts(content))
        elif role == "tool":
            items.append(_function_call_output(message))
        elif role == "assistant":
            _assistant_items(message, provider, items)
        elif isinstance(role, str):
            item = _message_item(role, content)
            if item is not None:
                items.append(item)
    return instructions, items


def _texts(parts: list[Any]) -> list[str]:
    return [
        p["text"] for p in parts
        if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) and p["text"]
    ]


def _part(part: Any, assistant: bool) -> dict[str, Any] | None:
    """One content part -> a Responses content part; cache_control and unknown parts are dropped."""
    if not isinstance(part, dict):
        return None
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        if isinstance(text, str) and text:
            return {"type": "output_text" if assistant else "input_text", "text": text}
        return None
    if assistant:
        return None  # assistant input content is text (or refusal) only
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return {"type": "input_image", "image_url": url} if isinstance(url, str) and url else None
    if kind == "file":
        file = part.get("file")
        if isinstance(file, dict) and file.get("file_data"):
            filename = file.get("filename") or "document.pdf"
            return {"type": "input_file", "filename": filename, "file_data": file["file_data"]}
    return None


def _message_item(role: str, content: Any) -> dict[str, Any] | None:
    if isinstance(content, str):
        return {"role": role, "content": content} if content else None
    if not isinstance(content, list):
        return None
    assistant = role == "assistant"
    parts = [converted for converted in (_part(p, assistant) for p in content) if converted is not None]
    # A message left without content is invalid upstream; the reference sent it anyway.
    return {"role": role, "content": parts} if parts else None


def _function_call_output(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, list):
        output = "\n".join(_texts(content))
    elif isinstance(content, str):
        output = content
    else:
        output = "" if content is None else dumps(content)
    return {"type": "function_call_output", "call_id": message.get("tool_call_id") or "", "output": output}


def _assistant_items(message: dict[str, Any], provider: str, items: list[dict[str, Any]]) -> None:
    """[FIX] The thinking never leaks into the item; text comes before the function calls, and
    this provider's own encrypted reasoning is replayed in front of both."""
    out: list[dict[str, Any]] = []
    content = message.get("content")
    calls = [c for c in message.get("tool_calls") or () if isinstance(c, dict)]
    if calls and isinstance(content, str):
        if content:
            out.append({"role": "assistant", "content": [{"type": "output_text", "text": content}]})
    else:
        item = _message_item("assistant", content)
        if item is not None:
            out.append(item)
    for call in calls:
        function = call.get("function")
        if not isinstance(function, dict):
            function = {}
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = dumps(arguments if arguments is not None else {})
        name, call_id = function.get("name") or "", call.get("id") or ""
        out.append({"type": "function_call", "arguments": arguments, "name": name, "call_id": call_id})
    reasoning = _replayed_reasoning(message.get("thinking"), provider)
    if reasoning is not None and out:  # a reasoning item must be followed by what it produced
        items.append(reasoning)
    items.extend(out)


def _replayed_reasoning(thinking: Any, provider: str) -> dict[str, Any] | None:
    if not isinstance(thinking, dict):
        return None
    encrypted = encrypted_reasoning(thinking.get("signature"), provider)
    if encrypted is None:
        return None
    text = thinking.get("content")
    summary = [{"type": "summary_text", "text": text}] if isinstance(text, str) and text else []
    return {"type": "reasoning", "summary": summary, "encrypted_content": encrypted}


# -- tools ----------------------------------------------------------------------------------


def convert_tools(tools: Any) -> tuple[list[dict[str, Any]], bool]:
    """Chat function tools -> Responses function tools; web search becomes the hosted tool (last)."""
    if not isinstance(tools, list):
        return [], False
    out: list[dict[str, Any]] = []
    web_search = False
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        if tool.get("type") != "function":
            out.append(tool)  # already a Responses tool
            continue
        function = tool.get("function")
        if not isinstance(function, dict):
            function = {}
        name = function.get("name") or ""
        server = tool.get("server_tool_type")
        if name == "web_search" or (isinstance(server, str) and server.startswith("web_search")):
            web_search = True
            continue
        if server:
            continue  # other Anthropic server tools have no Responses counterpart the client could run
        out.append(_function_tool(name, function))
    if web_search:
        out.append({"type": "web_search"})
    return out, web_search


def _function_tool(name: str, function: dict[str, Any]) -> dict[str, Any]:
    parameters = function.get("parameters")
    if not isinstance(parameters, dict):
        parameters = {"type": "object", "properties": {}}
    tool: dict[str, Any] = {"type": "function", "name": name}
    if function.get("description"):
        tool["description"] = function["description"]
    properties = parameters.get("properties")
    if name == "WebSearch" and isinstance(properties, dict) and "allowed_domains" in properties:
        parameters = {**parameters, "properties": {k: v for k, v in properties.items() if k != "allowed_domains"}}
    elif name == "Edit":
        # Strict mode wants every property required; extra properties of a newer Claude Code
        # schema are added so strict mode does not reject it.
        extra = [k for k in properties if k not in _EDIT_REQUIRED] if isinstance(properties, dict) else []
        parameters = {**parameters, "required": [*_EDIT_REQUIRED, *extra], "additionalProperties": False}
        tool["parameters"] = parameters
        tool["strict"] = True
        return tool
    tool["parameters"] = parameters
    return tool


def convert_tool_choice(choice: Any, web_search: bool) -> str | dict[str, Any] | None:
    """[FIX] `{type:"function", function:{name}}` -> `{type:"function", name}`."""
    if isinstance(choice, str):
        return choice
    if not isinstance(choice, dict):
        return None
    if choice.get("type") != "function":
        return choice
    function = choice.get("function")
    name = function.get("name") if isinstance(function, dict) else choice.get("name")
    if not name:
        return "required"
    if name == "web_search" and web_search:
        return "required"  # forcing the hosted tool by name is not portable; it is the one to call
    return {"type": "function", "name": name}
