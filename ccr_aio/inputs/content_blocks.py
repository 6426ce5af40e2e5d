"""Content blocks of Anthropic messages: what is wrong with one, as paths relative to it.

Known types get their fields checked; unknown types pass, since Anthropic adds new ones and a
router must not refuse what the API accepts. Each check tests the common, valid case inline and
returns None; only a block with a problem goes through the slower code that names it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .fields import MISSING, OBJECT, STRING, Fields, Found, is_array, is_bool, must_be, optional, required

_TEXT: Fields = (("text", *STRING),)
_TOOL_USE: Fields = (("id", *STRING), ("name", *STRING), ("input", *OBJECT))
_TOOL_USE_ID: Fields = (("tool_use_id", *STRING),)
_IS_ERROR: Fields = (("is_error", is_bool, "a boolean"),)
_THINKING: Fields = (("thinking", *STRING),)
_SIGNATURE: Fields = (("signature", *STRING),)
_DATA: Fields = (("data", *STRING),)
_SOURCE_TYPE: Fields = (("type", *STRING),)
_BASE64_SOURCE: Fields = (("data", *STRING), ("media_type", *STRING))
_OTHER_SOURCE: Fields = (("data", *STRING), ("media_type", *STRING), ("url", *STRING), ("file_id", *STRING))
_SEARCH_RESULT: Fields = (("source", *STRING), ("title", *STRING), ("content", is_array, "an array"))


def block_problems(block: Any) -> Found | None:
    """What is wrong with one content block (paths relative to it), or None."""
    if type(block) is not dict:
        return [("", must_be(block, "an object"))]
    kind = block.get("type", MISSING)
    if type(kind) is not str:
        return [(".type", must_be(kind, "a string"))]
    check = _BLOCKS.get(kind)
    if check is None and kind.endswith("_tool_result"):  # web_search_tool_result, ...: server tools
        check = _server_tool_result
    found = check(block) if check is not None else None
    cache_control = block.get("cache_control")
    if cache_control is not None and type(cache_control) is not dict:
        found = (found or []) + [(".cache_control", must_be(cache_control, "an object"))]
    return found


def _inner_blocks(blocks: list[Any]) -> Found:
    """Blocks inside a block (tool_result and search_result content)."""
    found = []
    for index, item in enumerate(blocks):
        for path, problem in block_problems(item) or ():
            found.append((f".content[{index}]{path}", problem))
    return found


def _text(block: dict[str, Any]) -> Found | None:
    return None if type(block.get("text")) is str else required(block, _TEXT)


def _source(block: dict[str, Any]) -> Found | None:
    """image / document: a `source` object whose fields the converters read are strings."""
    source = block.get("source", MISSING)
    if type(source) is not dict:
        return [(".source", must_be(source, "an object"))]
    fields = _BASE64_SOURCE if source.get("type") == "base64" else _OTHER_SOURCE
    found = required(source, _SOURCE_TYPE) + optional(source, fields)
    if fields is _BASE64_SOURCE and "data" not in source:
        found.append((".data", "is required"))
    return [(".source" + path, problem) for path, problem in found] or None


def _tool_use(block: dict[str, Any]) -> Found | None:
    if type(block.get("id")) is str and type(block.get("name")) is str and type(block.get("input")) is dict:
        return None
    return required(block, _TOOL_USE)


def _tool_result(block: dict[str, Any]) -> Found | None:
    content = block.get("content")
    is_error = block.get("is_error")
    if type(block.get("tool_use_id")) is str and (is_error is None or type(is_error) is bool):
        if content is None or type(content) is str:
            return None
        if type(content) is list:
            return _inner_blocks(content) or None
    found = required(block, _TOOL_USE_ID) + optional(block, _IS_ERROR)
    if type(content) is list:
        found += _inner_blocks(content)
    elif content is not None and type(content) is not str:
        found.append((".content", must_be(content, "a string or an array of content blocks")))
    return found or None


def _server_tool_result(block: dict[str, Any]) -> Found | None:
    return None if type(block.get("tool_use_id")) is str else required(block, _TOOL_USE_ID)


def _thinking(block: dict[str, Any]) -> Found | None:
    signature = block.get("signature")
    if type(block.get("thinking")) is str and (signature is None or type(signature) is str):
        return None
    return (required(block, _THINKING) + optional(block, _SIGNATURE)) or None


def _redacted_thinking(block: dict[str, Any]) -> Found | None:
    return None if type(block.get("data")) is str else required(block, _DATA)


def _search_result(block: dict[str, Any]) -> Found | None:
    found = required(block, _SEARCH_RESULT)
    content = block.get("content")
    if type(content) is list:
        found += _inner_blocks(content)
    return found or None


_BLOCKS: dict[str, Callable[[dict[str, Any]], Found | None]] = {
    "text": _text,
    "image": _source,
    "document": _source,
    "tool_use": _tool_use,
    "server_tool_use": _tool_use,
    "mcp_tool_use": _tool_use,
    "tool_result": _tool_result,
    "mcp_tool_result": _server_tool_result,
    "thinking": _thinking,
    "redacted_thinking": _redacted_thinking,
    "search_result": _search_result,
}
