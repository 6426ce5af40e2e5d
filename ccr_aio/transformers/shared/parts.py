"""Message clean-ups for providers that reject the unified extensions on message parts."""

from __future__ import annotations

from typing import Any

from .images import data_url


def clean_part(part: Any, *, strip_cache: bool) -> Any:
    """A part without the keys a strict provider rejects: `media_type` on images (its URL made a
    data URL when it is raw base64), and `cache_control` when `strip_cache`. Parts are shared
    with the client body, so a changed part is a new dict."""
    if not isinstance(part, dict):
        return part
    is_image = part.get("type") == "image_url"
    if not (is_image or (strip_cache and "cache_control" in part)):
        return part
    new = {key: value for key, value in part.items() if not (key == "cache_control" and strip_cache)}
    if is_image:
        media_type = new.pop("media_type", None)
        image = new.get("image_url")
        if isinstance(image, dict) and isinstance(image.get("url"), str):
            new["image_url"] = {**image, "url": data_url(image["url"], media_type)}
    return new


def clean_messages(messages: list[Any], *, strip_cache: bool) -> list[Any]:
    """New message list with parts cleaned (see `clean_part`); with `strip_cache`, message-level
    `cache_control` (set on tool messages) goes too."""
    out = []
    for message in messages:
        if isinstance(message, dict):
            content = message.get("content")
            if isinstance(content, list):
                message = {**message, "content": [clean_part(part, strip_cache=strip_cache) for part in content]}
            if strip_cache and "cache_control" in message:
                message = {key: value for key, value in message.items() if key != "cache_control"}
        out.append(message)
    return out
