"""Anthropic message content -> unified (OpenAI-shaped) messages.

Every function builds new containers and reuses leaf objects it does not change (text blocks,
`cache_control`, tool schemas), so the client body is never mutated and never deep-copied.
"""

from __future__ import annotations

from typing import Any, cast

from ...jsonutil import dumps
from ...shapes.anthropic import MessageParam, RequestBlock
from ...shapes.unified import ContentPart, FileData, FunctionCall, Thinking, ToolCall, UnifiedMessage
from ..shared.tool_signatures import split_id, with_signature

# Claude Code puts a per-version billing line first in `system`; forwarding it would change the
# prompt prefix on every release and spoil the provider's prompt cache.
BILLING_PREFIX = "x-anthropic-billing-header"


def system_parts(blocks: list[RequestBlock]) -> list[ContentPart]:
    """System text blocks -> text parts; empty texts and the billing header are dropped."""
    parts: list[ContentPart] = []
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") != "text":
            continue
        text = block.get("text")
        if not text or not isinstance(text, str) or text.startswith(BILLING_PREFIX):
            continue
        part: ContentPart = {"type": "text", "text": text}
        if block.get("cache_control") is not None:
            part["cache_control"] = block["cache_control"]
        parts.append(part)
    return parts


def system_message(content: Any) -> UnifiedMessage | None:
    """A system prompt (top-level or a `role: system` turn) -> one system message, or None."""
    if isinstance(content, str):
        return {"role": "system", "content": content}
    if isinstance(content, list):
        return {"role": "system", "content": system_parts(content)}
    return None


def _data_url(data: str, media_type: str | None, default: str) -> str:
    # Some clients send a full data URL where bare base64 is expected; use it as is. Only a
    # leading `data:` counts: raw base64 may legitimately contain the letters "base64".
    if data.startswith("data:"):
        return data
    return f"data:{media_type or default};base64,{data}"


def image_part(block: RequestBlock) -> ContentPart | None:
    source = block.get("source")
    if not isinstance(source, dict):
        return None
    media_type = source.get("media_type")
    if source.get("type") == "base64":
        data = source.get("data")
        if not isinstance(data, str):
            return None
        url = _data_url(data, media_type, "image/png")
    else:
        url = source.get("url") or ""
        if not url:
            return None
    part: ContentPart = {"type": "image_url", "image_url": {"url": url}}
    if media_type:
        part["media_type"] = media_type
    if block.get("cache_control") is not None:
        part["cache_control"] = block["cache_control"]
    return part


def _text_part(text: str, block: RequestBlock) -> ContentPart:
    part: ContentPart = {"type": "text", "text": text}
    if block.get("cache_control") is not None:
        part["cache_control"] = block["cache_control"]
    return part


def document_part(block: RequestBlock) -> ContentPart | None:
    """PDF -> OpenAI file part; text-like sources -> a text part; anything else is dropped."""
    source = block.get("source")
    if not isinstance(source, dict):
        return None
    kind = source.get("type")
    if kind == "base64" and isinstance(source.get("data"), str):
        data_url = _data_url(source["data"], source.get("media_type"), "application/pdf")
        file: FileData = {"filename": "document.pdf", "file_data": data_url}
        return {"type": "file", "file": file}
    if kind == "text" and source.get("data"):
        return _text_part(source["data"], block)
    if kind == "content" and isinstance(source.get("content"), list):
        text = "\n".join(
            b["text"] for b in source["content"] if isinstance(b, dict) and b.get("type") == "text" and b.get("text")
        )
        return _text_part(text, block) if text else None
    if kind == "url" and source.get("url"):
        # OpenAI file parts cannot fetch URLs; tell the model where the document is instead.
        return _text_part(f"[Document: {source['url']}]", block)
    return None


def user_part(block: RequestBlock) -> ContentPart | None:
    """One non-tool_result user block -> a content part, or None when it has no unified form."""
    if not isinstance(block, dict):
        return None
    kind = block.get("type")
    if kind == "text":
        # The whole block is reused so `cache_control`, `citations`, ... pass through.
        return cast(ContentPart, block) if block.get("text") else None
    if kind == "image":
        return image_part(block)
    if kind == "document":
        return document_part(block)
    return None


def _tool_message(block: RequestBlock, media: list[ContentPart]) -> UnifiedMessage:
    """A tool_result block -> a tool message; its images/files are appended to `media`."""
    content = block.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        texts: list[str] = []
        for item in content:
            part = user_part(item)
            if part is None:
                # e.g. Claude Code's `tool_reference` blocks: keep them visible as JSON.
                if isinstance(item, dict) and item.get("type") != "text":
                    texts.append(dumps(item))
            elif part.get("type") == "text":
                texts.append(part["text"])
            else:
                media.append(part)
        text = "\n".join(texts)
    elif content is None:
        text = ""  # OpenAI requires `content` on tool messages.
    else:
        text = dumps(content)
    if block.get("is_error"):
        text = f"Error: {text}"
    call_id, _ = split_id(block["tool_use_id"])  # the id the provider knows the call by
    message: UnifiedMessage = {"role": "tool", "content": text, "tool_call_id": call_id}
    if block.get("cache_control") is not None:
        message["cache_control"] = block["cache_control"]
    return message


def _in_call_order(tool_messages: list[UnifiedMessage], call_ids: list[str]) -> list[UnifiedMessage]:
    """Tool messages ordered as the assistant's tool_calls (results of unknown calls last, in
    their own order). Claude Code sends parallel tool results in completion order, and some
    OpenAI-compatible providers reject tool messages that do not follow the calls' order."""
    if len(tool_messages) < 2 or not call_ids:
        return tool_messages
    position = {call_id: n for n, call_id in enumerate(call_ids)}
    return sorted(tool_messages, key=lambda m: position.get(m["tool_call_id"], len(position)))


def user_messages(blocks: list[RequestBlock], out: list[UnifiedMessage], call_ids: list[str] | None = None) -> None:
    """Append the tool messages, then at most one user message, for one Anthropic user turn.

    All tool messages come first because OpenAI requires them to directly follow the assistant's
    tool_calls, in the order of `call_ids` (the calls of the assistant turn before). Images
    returned by tools go at the front of the user message that follows.
    """
    parts: list[ContentPart] = []
    media: list[ContentPart] = []
    tool_messages: list[UnifiedMessage] = []
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            if block.get("tool_use_id"):
                tool_messages.append(_tool_message(block, media))
            continue
        part = user_part(block)
        if part is not None:
            parts.append(part)
    out.extend(_in_call_order(tool_messages, call_ids or []))
    if media or parts:
        out.append({"role": "user", "content": media + parts if media else parts})


def _arguments(value: Any) -> str:
    if isinstance(value, str):
        return value
    return dumps(value or {})


def assistant_message(blocks: list[RequestBlock]) -> UnifiedMessage:
    texts: list[str] = []
    tool_calls: list[ToolCall] = []
    thinking: Thinking | None = None
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            if block.get("text"):
                texts.append(block["text"])
        elif kind == "tool_use":
            if block.get("id"):
                call_id, signature = split_id(block["id"])
                function: FunctionCall = {"name": block.get("name") or "", "arguments": _arguments(block.get("input"))}
                call: ToolCall = {"id": call_id, "type": "function", "function": function}
                tool_calls.append(with_signature(call, signature))
        elif kind == "thinking" and thinking is None and block.get("signature"):
            thinking = {"content": block.get("thinking") or "", "signature": block["signature"]}
    message: UnifiedMessage = {"role": "assistant", "content": "\n".join(texts)}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if thinking is not None:
        message["thinking"] = thinking
    return message


def _call_ids(message: UnifiedMessage | None) -> list[str]:
    """The tool call ids of `message` when it is an assistant turn."""
    if message is None or message.get("role") != "assistant":
        return []
    return [call["id"] for call in message.get("tool_calls") or ()]


def convert_messages(messages: list[MessageParam], out: list[UnifiedMessage]) -> None:
    """Anthropic `messages` -> unified messages appended to `out` (after the system prompt)."""
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        content = msg.get("content")
        if role == "system":
            # Current Claude Code sends mid-conversation system turns; they carry real instructions.
            converted = system_message(content)
            if converted is not None:
                out.append(converted)
        elif role not in ("user", "assistant"):
            continue
        elif isinstance(content, str):
            out.append({"role": role, "content": content})
        elif isinstance(content, list):
            if role == "user":
                user_messages(content, out, _call_ids(out[-1] if out else None))
            else:
                out.append(assistant_message(content))
