"""Mappings shared by the Anthropic request, response and stream conversions."""

from __future__ import annotations

from typing import Any

from ...errors import ERROR_TYPES
from ...shapes.anthropic import AnthropicUsage, StopReason
from ...shapes.unified import Usage

_STOP_REASONS: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "max_tokens": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "stop_sequence",
    "tool_use": "tool_use",
    "end_turn": "end_turn",
    "stop_sequence": "stop_sequence",
    "pause_turn": "pause_turn",
    "refusal": "refusal",
}


# The first status of each Anthropic error type (invalid_request_error -> 400, not 405).
_STATUS_FOR_TYPE = {kind: status for status, kind in reversed(list(ERROR_TYPES.items()))}


def upstream_error_status(error: Any) -> int | None:
    """The HTTP status an upstream error reported inside an answer stands for: its numeric
    `status` or `code`, else the status of its Anthropic error type; None when it says neither."""
    if not isinstance(error, dict):
        return None
    status = error.get("status") or error.get("code")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, int) and not isinstance(status, bool) and 400 <= status < 600:
        return status
    return _STATUS_FOR_TYPE.get(error.get("type"))  # type: ignore[arg-type]


def map_stop_reason(finish_reason: str | None, had_tool_use: bool = False) -> StopReason:
    """OpenAI/Gemini finish_reason -> Anthropic stop_reason ([FIX])."""
    reason = _STOP_REASONS.get(finish_reason or "", None)
    if reason is None:
        reason = _STOP_REASONS.get((finish_reason or "").lower(), "end_turn")
    if had_tool_use and reason == "end_turn":
        return "tool_use"
    return reason


def anthropic_usage(usage: Usage | None) -> AnthropicUsage:
    """Unified (OpenAI) usage -> Anthropic usage; cached prompt tokens are reported apart.
    Output counts reasoning, as Anthropic's does: OpenAI's completion_tokens include it, xAI's
    leave it out (its total_tokens is prompt + completion + reasoning), so it is added back."""
    usage = usage or {}
    prompt = usage.get("prompt_tokens") or 0
    details = usage.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") or usage.get("cache_read_input_tokens") or 0
    output = usage.get("completion_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    if reasoning and usage.get("total_tokens") == prompt + output + reasoning:
        output += reasoning
    result: AnthropicUsage = {
        "input_tokens": max(prompt - cached, 0),
        "output_tokens": output,
        "cache_read_input_tokens": cached,
    }
    created = usage.get("cache_creation_input_tokens") or details.get("cache_creation_tokens")
    if created:
        result["cache_creation_input_tokens"] = created
    return result


def ended_early(provider: str = "", model: str = "") -> str:
    """What the client is told when a provider's stream ends without saying the answer is
    finished (no finish_reason): a cut answer must never be passed off as a complete one."""
    who = f"Provider {provider},{model}" if provider and model else f"Provider {provider}" if provider else "The provider"
    return f"{who} ended the stream before the answer was finished (no finish reason): the answer is incomplete"
