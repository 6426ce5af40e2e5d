"""Unified request -> Anthropic Messages body for Claude on Vertex AI (`rawPredict`), the inverse of
the endpoint's request conversion ([FIX]: tool calls, tool results, images, tool_choice and thinking
survive, which the reference dropped or mangled).

Vertex takes the Anthropic body without `model` and with `anthropic_version`. Thinking blocks are
replayed only with signatures Anthropic issued: tagged ones from other providers and synthesized
ones (both `ccr_…`, see `shared/signatures.py`) and epoch-ms digits would be rejected, so they are dropped, and thinking is then switched
off for a request whose last assistant turn cannot start with a valid thinking block.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ....shapes.unified import UnifiedMessage, UnifiedRequest
from ...shared.json_args import parse_arguments

ANTHROPIC_VERSION = "vertex-2023-10-16"
DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024  # Anthropic's minimum budget_tokens
_EFFORT_BUDGET = {"minimal": 1024, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768, "max": 65536}
_BAD_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


def anthropic_signature(signature: Any) -> bool:
    """True unless the signature is one Anthropic would reject as foreign."""
    if not isinstance(signature, str) or not signature:
        return False
    return not (signature.startswith("ccr_") or signature.isdigit())


def tool_id(value: Any) -> str:
    """Anthropic accepts `[a-zA-Z0-9_-]+` ids; other providers' ids (`functions.Read:0`) are mapped
    the same way in tool_use and tool_result, so pairs still match."""
    text = str(value or "")
    return _BAD_ID_CHARS.sub("_", text) or "tool"


def _text_block(part: dict[str, Any], text: str) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if part.get("cache_control") is not None:
        block["cache_control"] = part["cache_control"]
    return block


def _media_block(url: str, media_type: Any, kind: str) -> dict[str, Any] | None:
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        mime = media_type or header[5:].split(";", 1)[0] or ("application/pdf" if kind == "document" else "image/png")
        return {"type": "document" if mime == "application/pdf" else "image",
                "source": {"type": "base64", "media_type": mime, "data": data}}
    if url.startswith(("http://", "https://")):
        return {"type": kind, "source": {"type": "url", "url": url}}
    return None


def user_blocks(content: Any) -> list[dict[str, Any]]:
    """Unified user content -> Anthropic content blocks (empty texts dropped: Anthropic rejects them)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, dict):
        content = [content]
    blocks: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        block = None
        if kind == "text" and isinstance(part.get("text"), str) and part["text"]:
            block = _text_block(part, part["text"])
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            block = _media_block(url, part.get("media_type"), "image") if isinstance(url, str) else None
        elif kind == "file" and isinstance(part.get("file"), dict) and isinstance(part["file"].get("file_data"), str):
            block = _media_block(part["file"]["file_data"], None, "document")
        if block is not None:
            if kind != "text" and part.get("cache_control") is not None:
                block["cache_control"] = part["cache_control"]
            blocks.append(block)
    return blocks


def assistant_blocks(message: UnifiedMessage) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    thinking = message.get("thinking")
    if isinstance(thinking, dict) and anthropic_signature(thinking.get("signature")):
        blocks.append({"type": "thinking", "thinking": thinking.get("content") or "", "signature": thinking["signature"]})
    blocks.extend(b for b in user_blocks(message.get("content")) if b["type"] == "text")
    for call in message.get("tool_calls") or ():
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        args = parse_arguments(function.get("arguments"))
        blocks.append(
            {"type": "tool_use", "id": tool_id(call.get("id")), "name": function.get("name") or "",
             "input": args if args is not None else {}}
        )
    return blocks


def tool_result(message: UnifiedMessage) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id(message.get("tool_call_id"))}
    content = message.get("content")
    if isinstance(content, list):
        parts = user_blocks(content)
        if parts:
            block["content"] = parts
    elif isinstance(content, str) and content:
        block["content"] = content
    if message.get("cache_control") is not None:
        block["cache_control"] = message["cache_control"]
    return block


def _append(messages: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Consecutive turns of one role merge: Anthropic wants alternation, and tool results must sit
    in the user turn right after the tool_use turn."""
    if not blocks:
        return
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(blocks)
    else:
        messages.append({"role": role, "content": list(blocks)})


def _tools(tools: Any) -> list[dict[str, Any]]:
    result = []
    for tool in tools or ():
        if not isinstance(tool, dict) or not isinstance(tool.get("function"), dict):
            continue
        function = tool["function"]
        if tool.get("server_tool_type"):  # web_search_20250305, ...: Anthropic runs it itself
            result.append({"type": tool["server_tool_type"], "name": function.get("name") or ""})
            continue
        entry: dict[str, Any] = {"name": function.get("name") or ""}
        if function.get("description"):
            entry["description"] = function["description"]
        schema = function.get("parameters")
        entry["input_schema"] = schema if isinstance(schema, dict) else {"type": "object", "properties": {}}
        result.append(entry)
    return result


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    mapped: dict[str, Any] | None = None
    if choice in ("auto", "none"):
        mapped = {"type": choice}
    elif choice in ("required", "any"):
        mapped = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict) and choice["function"].get("name"):
        mapped = {"type": "tool", "name": choice["function"]["name"]}
    if parallel is False:
        mapped = {**(mapped or {"type": "auto"}), "disable_parallel_tool_use": True}
    return mapped


def _thinking(reasoning: Any, max_tokens: int) -> dict[str, Any] | None:
    if not isinstance(reasoning, dict) or reasoning.get("enabled") is False:
        return None
    effort = reasoning.get("effort")
    if effort == "none" or (not effort and not reasoning.get("max_tokens")):
        return None
    budget = reasoning.get("max_tokens") or _EFFORT_BUDGET.get(effort or "", 8192)
    budget = min(int(budget), max_tokens - 1)  # Anthropic requires budget_tokens < max_tokens
    return {"type": "enabled", "budget_tokens": budget} if budget >= MIN_THINKING_BUDGET else None


def unified_to_anthropic(request: UnifiedRequest, max_tokens_cap: int | None = None) -> dict[str, Any]:
    """The rawPredict body. `max_tokens_cap` bounds max_tokens for models with a lower output limit
    than the one the client assumed (Claude Code asks up to 128k)."""
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    leading = True
    for message in request.get("messages") or ():
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "system" and leading:
            system.extend(user_blocks(message.get("content")))
            continue
        leading = False
        if role == "assistant":
            _append(messages, "assistant", assistant_blocks(message))
        elif role == "tool":
            _append(messages, "user", [tool_result(message)])
        else:  # user, and later system turns as user text (Anthropic has no system role there)
            _append(messages, "user", user_blocks(message.get("content")))

    max_tokens = request.get("max_tokens") or request.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
    if max_tokens_cap:
        max_tokens = min(max_tokens, max_tokens_cap)
    body: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION, "messages": messages, "max_tokens": max_tokens}
    if system:
        body["system"] = system
    stop = request.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    tools = _tools(request.get("tools"))
    if tools:
        body["tools"] = tools
    choice = _tool_choice(request.get("tool_choice"), request.get("parallel_tool_calls"))
    if choice and (tools or choice["type"] == "none"):
        body["tool_choice"] = choice
    thinking = _thinking(request.get("reasoning"), max_tokens)
    if thinking and _thinking_allowed(messages, choice):
        body["thinking"] = thinking
    sampling: Mapping[str, Any] = request
    for key in ("temperature", "top_p", "top_k"):
        value = sampling.get(key)
        if value is None:
            continue
        # With thinking on, Anthropic accepts temperature 1 only, top_p >= 0.95 and no top_k.
        if "thinking" in body and (key == "top_k" or (key == "temperature" and value != 1) or (key == "top_p" and value < 0.95)):
            continue
        body[key] = value
    body["stream"] = request.get("stream") is True
    return body


def _thinking_allowed(messages: list[dict[str, Any]], choice: dict[str, Any] | None) -> bool:
    """Anthropic rejects thinking with a forced tool, and a tool-using last assistant turn that
    does not start with a thinking block (e.g. one produced by another provider)."""
    if choice and choice.get("type") in ("any", "tool"):
        return False
    for message in reversed(messages):
        if message["role"] == "assistant":
            blocks = message["content"]
            uses_tools = any(b.get("type") == "tool_use" for b in blocks)
            return not uses_tools or blocks[0].get("type") == "thinking"
    return True
