"""Removing Anthropic `cache_control` markers from a unified request.

Parts and messages are shared with the client body, so changed ones are rebuilt, never
edited, and an unchanged list is returned as is (no copy per turn of a long conversation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...shapes.unified import UnifiedRequest


def _without_cache(item: Any) -> Any:
    if isinstance(item, dict) and "cache_control" in item:
        return {key: value for key, value in item.items() if key != "cache_control"}
    return item


def _clean_message(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    content = message.get("content")
    if isinstance(content, list) and any(isinstance(p, dict) and "cache_control" in p for p in content):
        message = {**message, "content": [_without_cache(part) for part in content]}
    return _without_cache(message)


def _clean_list(items: Any, clean: Callable[[Any], Any]) -> Any:
    """`items` with each item cleaned; the same list when nothing changed (no copy per turn)."""
    if not isinstance(items, list):
        return items
    cleaned = [clean(item) for item in items]
    return items if all(a is b for a, b in zip(cleaned, items)) else cleaned


def strip_cache_control(request: UnifiedRequest) -> UnifiedRequest:
    """`request` without `cache_control` on messages, their parts and tools."""
    messages = _clean_list(request.get("messages"), _clean_message)
    tools = _clean_list(request.get("tools"), _without_cache)
    if messages is request.get("messages") and tools is request.get("tools"):
        return request
    cleaned: UnifiedRequest = {**request, "messages": messages}
    if "tools" in request:
        cleaned["tools"] = tools
    return cleaned
