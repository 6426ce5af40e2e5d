"""Mappings shared by the Anthropic request, response and stream conversions."""

from __future__ import annotations

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


def map_stop_reason(finish_reason: str | None, had_tool_use: bool = False) -> StopReason:
    """OpenAI/Gemini finish_reason -> Anthropic stop_reason ([FIX])."""
    reason = _STOP_REASONS.get(finish_reason or "", None)
    if reason is None:
        reason = _STOP_REASONS.get((finish_reason or "").lower(), "end_turn")
    if had_tool_use and reason == "end_turn":
        return "tool_use"
    return reason


def anthropic_usage(usage: Usage | None) -> AnthropicUsage:
    """Unified (OpenAI) usage -> Anthropic usage; cached prompt tokens are reported apart."""
    usage = usage or {}
    prompt = usage.get("prompt_tokens") or 0
    details = usage.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") or usage.get("cache_read_input_tokens") or 0
    result: AnthropicUsage = {
        "input_tokens": max(prompt - cached, 0),
        "output_tokens": usage.get("completion_tokens") or 0,
        "cache_read_input_tokens": cached,
    }
    created = usage.get("cache_creation_input_tokens") or details.get("cache_creation_tokens")
    if created:
        result["cache_creation_input_tokens"] = created
    return result
