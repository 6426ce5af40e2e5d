"""Gemini thought signatures of tool calls: carried in the unified format, and inside tool_use ids.

Gemini attaches a `thoughtSignature` to a functionCall part and rejects a later request whose
replayed call lost it (Gemini 3). In the unified (OpenAI-chat) format a tool call carries it as
Google's OpenAI-compatible endpoint does: `extra_content.google.thought_signature`.

Towards the client it travels inside the tool_use id: `<id>__sig<n>_<signature>`, the standard
base64 signature written in the id alphabet (`+/` as `-_`) with its `n` padding `=` left out, so
the id stays valid for Anthropic (`^[a-zA-Z0-9_-]+$`). Claude Code keeps the id and sends it
back on the tool_use and its tool_result; the endpoint splits it again, so every provider sees
the short id and only the Gemini dialects read the signature (the chain strips it for the
rest). Nothing is stored server-side: a restarted or another worker process reads the same id.
A signature that is not base64 cannot be written this way and is not carried.
"""

from __future__ import annotations

import re
from typing import Any, cast

from ...shapes.unified import ToolCall, UnifiedMessage, UnifiedRequest

_SEPARATOR = re.compile(r"__sig([0-2])_")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+(=*)")
_TO_ID = str.maketrans("+/", "-_")
_FROM_ID = str.maketrans("-_", "+/")


def signature_of(call: Any) -> str | None:
    """The thought signature a unified tool call carries, or None."""
    extra = call.get("extra_content") if isinstance(call, dict) else None
    google = extra.get("google") if isinstance(extra, dict) else None
    signature = google.get("thought_signature") if isinstance(google, dict) else None
    return signature if isinstance(signature, str) and signature else None


def with_signature(call: ToolCall, signature: str | None) -> ToolCall:
    """`call` carrying `signature` (a new dict), or `call` itself when there is none."""
    if not signature:
        return call
    signed = call.copy()
    signed["extra_content"] = {"google": {"thought_signature": signature}}
    return signed


def id_with_signature(call_id: str, signature: str | None) -> str:
    """The tool_use id the client gets: `call_id`, with the signature when there is one."""
    match = _BASE64.fullmatch(signature or "")
    if match is None or len(match.group(1)) > 2:
        return call_id
    body = signature.rstrip("=").translate(_TO_ID)  # type: ignore[union-attr]
    return f"{call_id}__sig{len(match.group(1))}_{body}"


def split_id(tool_use_id: Any) -> tuple[Any, str | None]:
    """A client tool_use id -> (the call's own id, its thought signature or None)."""
    match = _SEPARATOR.search(tool_use_id) if isinstance(tool_use_id, str) else None
    if match is None or match.end() == len(tool_use_id):
        return tool_use_id, None
    body = tool_use_id[match.end() :].translate(_FROM_ID)
    return tool_use_id[: match.start()], body + "=" * int(match.group(1))


def strip_signatures(request: UnifiedRequest) -> UnifiedRequest:
    """`request` without `extra_content` on its tool calls, for providers that do not read it
    (strict ones reject unknown keys). Unchanged messages are reused; no change, no copy."""
    messages = request.get("messages")
    if not isinstance(messages, list) or not any(_has_extras(m) for m in messages):
        return request
    stripped = request.copy()
    stripped["messages"] = [_without_extras(m) if _has_extras(m) else m for m in messages]
    return stripped


def _has_extras(message: Any) -> bool:
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    return isinstance(calls, list) and any(isinstance(c, dict) and "extra_content" in c for c in calls)


def _without_extras(message: UnifiedMessage) -> UnifiedMessage:
    calls = [
        cast(ToolCall, {k: v for k, v in call.items() if k != "extra_content"}) if isinstance(call, dict) else call
        for call in message.get("tool_calls") or ()
    ]
    stripped = message.copy()
    stripped["tool_calls"] = calls
    return stripped
