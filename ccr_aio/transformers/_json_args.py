"""Tolerant parsing of tool-call arguments that models emit as (almost) JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import pyjson5

_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def parse_arguments(text: str | dict | None) -> dict[str, Any] | None:
    """JSON, then JSON5, then a light repair (code fences, trailing commas, unclosed brackets).
    Returns an object, or None when nothing yields one."""
    if isinstance(text, dict):
        return text
    if not text or not text.strip():
        return {}
    candidates = [text, _strip_fence(text)]
    for candidate in candidates:
        for parse in (json.loads, pyjson5.decode):
            try:
                value = parse(candidate)
            except (ValueError, pyjson5.Json5Exception):
                continue
            if isinstance(value, dict):
                return value
    repaired = _close_brackets(_TRAILING_COMMA.sub(r"\1", _strip_fence(text)))
    try:
        value = pyjson5.decode(repaired)
    except (ValueError, pyjson5.Json5Exception):
        return None
    return value if isinstance(value, dict) else None


def arguments_json(text: str | dict | None) -> str:
    """Arguments as a compact JSON object string; unparseable text is kept as {"text": ...}."""
    value = parse_arguments(text)
    if value is None:
        value = {"text": text}
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _strip_fence(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        if stripped.rstrip().endswith("```"):
            stripped = stripped.rstrip()[:-3]
    return stripped.strip()


def _close_brackets(text: str) -> str:
    """Append the closers a truncated object is missing (outside strings)."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]" and stack:
            stack.pop()
    return text + ('"' if in_string else "") + "".join(reversed(stack))
