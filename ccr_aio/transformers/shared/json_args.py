"""Tolerant parsing of tool-call arguments that models emit as (almost) JSON.

Order of attempts: JSON, then JSON5 (single quotes, bare keys, trailing commas, invalid escapes
such as `\\y`), then a light repair (code fences, prose around the object, Python literals,
truncation: unclosed strings and brackets, a dangling key at the end).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyjson5

from ...jsonutil import dumps, loads

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}
_MISSING = object()


def parse_arguments(text: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """The arguments as an object, or None when no attempt yields one."""
    if isinstance(text, dict):
        return text
    if not text or not text.strip():
        return {}
    value = _decode(text)
    return value if isinstance(value, dict) else None


def arguments_json(text: str | dict[str, Any] | None) -> str:
    """Arguments as a compact JSON object string; unparseable text is kept as {"text": ...}."""
    value = parse_arguments(text)
    if value is None:
        value = {"text": text}
    return dumps(value)


def repair_arguments(text: Any) -> str:
    """`enhancetool`'s parseToolArguments with its [FIX]: the result is
    always a JSON object string. Valid JSON objects come back unchanged, byte for byte; other
    text is parsed tolerantly and re-serialized compactly; a value that is not an object is
    wrapped as {"value": ...}; text that yields nothing becomes "{}"."""
    if isinstance(text, dict):
        return dumps(text)
    if not isinstance(text, str) or not text.strip() or text.strip() == "{}":
        return "{}"
    try:
        value = loads(text)
    except ValueError:
        value = _decode(text)
    else:
        if isinstance(value, dict):
            return text
    if value is _MISSING:
        return "{}"
    return dumps(value if isinstance(value, dict) else {"value": value})


def _decode(text: str) -> Any:
    """The first value any attempt yields, preferring objects; `_MISSING` when none does."""
    found: Any = _MISSING
    for candidate in _candidates(text):
        try:
            value = pyjson5.decode(candidate)
        except (ValueError, pyjson5.Json5Exception):
            continue
        if isinstance(value, dict):
            return value
        if found is _MISSING:
            found = value
    return found


def _candidates(text: str) -> Iterator[str]:
    yield text
    stripped = _strip_fence(text)
    if stripped != text:
        yield stripped
    start = stripped.find("{")
    if start > 0:  # prose before the object: "Here are the arguments: {...}"
        end = stripped.rfind("}")
        yield stripped[start : end + 1] if end > start else stripped[start:]
        stripped = stripped[start:]
    yield from _repairs(stripped)  # JSON5 already takes trailing commas


def _repairs(text: str) -> Iterator[str]:
    """Close what truncation left open; as a second try, cut back to the last comma."""
    out: list[str] = []
    stack: list[str] = []
    quote: str | None = None
    escaped = False
    cut: tuple[int, str] | None = None  # (length of `out`, closers) at the last comma
    pos = 0
    while pos < len(text):
        char = text[pos]
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]":
            if stack:
                stack.pop()
        elif char == ",":
            cut = (len(out), "".join(reversed(stack)))
        elif char.isalpha() or char == "_":  # Python's True/False/None as JSON literals
            word = _WORD.match(text, pos)
            if word:
                out.append(_PY_LITERALS.get(word.group(), word.group()))
                pos = word.end()
                continue
        out.append(char)
        pos += 1
    body = "".join(out)
    if quote and escaped:
        body = body[:-1]  # a lone backslash at the cut
    yield body + (quote or "") + "".join(reversed(stack))
    if cut is not None:
        yield body[: cut[0]] + cut[1]


def _strip_fence(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        if stripped.rstrip().endswith("```"):
            stripped = stripped.rstrip()[:-3]
    return stripped.strip()
