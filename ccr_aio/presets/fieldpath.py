"""Field paths like `Providers[0].api_key` or `headers["x-api-key"]`: one grammar for every
place a path appears (configMappings targets, requiredInputs fields, apply keys).

    path := seg ( "." seg | "[" digits "]" | '["' json-string-chars '"]' )*
    seg  := any characters but . [ ]   (or a quoted segment)

[FIX] CCR tokenised with `\\w+` (so `x-api-key` became three keys) in one place and split on
`.[]` in another, and let `__proto__` through; here both read the same way, and the names that
poison JavaScript objects are refused so a preset written here stays safe for CCR too.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .store import PresetError

Token = str | int
FORBIDDEN = frozenset({"__proto__", "constructor", "prototype"})
_FIRST = re.compile(r'[^.\[\]]+|\["((?:[^"\\]|\\.)*)"\]')
_NEXT = re.compile(r'\.([^.\[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')
MISSING: Any = object()


def parse_path(text: Any) -> list[Token]:
    if not isinstance(text, str) or not text:
        raise PresetError(400, f"Invalid field path {text!r}"[:200])
    tokens: list[Token] = []
    match = _FIRST.match(text)
    if match is None:
        raise PresetError(400, f"Invalid field path {text!r}"[:200])
    tokens.append(_unquote(match.group(1)) if match.group(1) is not None else match.group(0))
    pos = match.end()
    while pos < len(text):
        match = _NEXT.match(text, pos)
        if match is None:
            raise PresetError(400, f"Invalid field path {text!r}"[:200])
        key, index, quoted = match.groups()
        tokens.append(key if key is not None else int(index) if index is not None else _unquote(quoted))
        pos = match.end()
    bad = [t for t in tokens if isinstance(t, str) and t in FORBIDDEN]
    if bad:
        raise PresetError(400, f"Invalid field path {text!r}: '{bad[0]}' is not allowed"[:200])
    return tokens


def _unquote(inner: str) -> str:
    try:
        return str(json.loads(f'"{inner}"'))
    except ValueError:
        raise PresetError(400, f"Invalid quoted segment [\"{inner}\"]"[:200]) from None


def format_path(tokens: list[Token]) -> str:
    """The path text for tokens (`a.b[0]`, quoting segments that need it)."""
    out = ""
    for i, token in enumerate(tokens):
        if isinstance(token, int):
            out += f"[{token}]"
        elif token and not re.search(r'[.\[\]"]', token):
            out += token if i == 0 else f".{token}"
        else:
            out += f"[{json.dumps(token)}]"
    return out


def get_path(tree: Any, tokens: list[Token]) -> Any:
    """The value at `tokens`, or MISSING."""
    node = tree
    for token in tokens:
        if isinstance(token, int) and isinstance(node, list) and token < len(node):
            node = node[token]
        elif isinstance(token, str) and isinstance(node, dict) and token in node:
            node = node[token]
        else:
            return MISSING
    return node


def set_path(tree: dict[str, Any], tokens: list[Token], value: Any) -> None:
    """Set the value at `tokens`; missing objects on the way are created, lists never grow
    (an index past the end is a 400)."""
    node: Any = tree
    where = format_path(tokens)
    for i, token in enumerate(tokens):
        last = i == len(tokens) - 1
        if isinstance(token, int):
            if not isinstance(node, list):
                raise PresetError(400, f"Cannot set {where}: {format_path(tokens[:i]) or 'the root'} is not a list")
            if token >= len(node):
                raise PresetError(400, f"Cannot set {where}: index {token} is out of range")
        elif not isinstance(node, dict):
            raise PresetError(400, f"Cannot set {where}: {format_path(tokens[:i])} is not an object")
        if last:
            node[token] = value
            return
        following = tokens[i + 1]
        child = node[token] if isinstance(token, int) else node.get(token, MISSING)
        if child is MISSING or child is None:
            if isinstance(following, int):
                raise PresetError(400, f"Cannot set {where}: {format_path(tokens[:i + 1])} is not a list")
            child = node[token] = {}
        node = child
