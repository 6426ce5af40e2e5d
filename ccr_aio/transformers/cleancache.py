"""`cleancache`: strip Anthropic `cache_control` markers for providers that reject them
(transformers.md §3.10.5).

Removed from every content part, from messages (the reference keeps a message-level marker
when the content is an array; nothing upstream wants it either way) and from tools. Parts and
messages are shared with the client body, so changed ones are rebuilt, never edited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Context, Transformer, builtin

if TYPE_CHECKING:
    from ..providers import Provider


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


def _clean_list(items: Any, clean: Any) -> Any:
    """`items` with each item cleaned; the same list when nothing changed (no copy per turn)."""
    if not isinstance(items, list):
        return items
    cleaned = [clean(item) for item in items]
    return items if all(a is b for a, b in zip(cleaned, items)) else cleaned


@builtin
class CleanCache(Transformer):
    name = "cleancache"

    async def request_in(self, request: dict[str, Any], provider: Provider, ctx: Context) -> dict[str, Any]:
        messages = _clean_list(request.get("messages"), _clean_message)
        tools = _clean_list(request.get("tools"), _without_cache)
        if messages is request.get("messages") and tools is request.get("tools"):
            return request
        cleaned = {**request, "messages": messages}
        if "tools" in request:
            cleaned["tools"] = tools
        return cleaned
