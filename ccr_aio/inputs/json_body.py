"""A client's JSON body -> dict, or a 400 that says what is wrong with it.

Beyond `json.loads` this refuses what would otherwise surface later as a 500, or as
non-standard JSON sent on to a provider:
- nesting deeper than MAX_DEPTH, measured on the raw bytes *before* parsing, so neither the
  parser nor any recursive code after it (encoders, schema cleaners, token counting) can reach
  Python's recursion limit;
- `NaN`, `Infinity`, `-Infinity` and numbers that overflow to infinity: Python parses them, and
  `json.dumps` would write them back out as tokens no JSON parser accepts;
- bytes that are not UTF-8 (RFC 8259: JSON between systems is UTF-8).

Lone surrogates (`"\\ud800"`) are replaced with U+FFFD instead of refused. JavaScript clients
such as Claude Code produce them when they cut a string between the two halves of an emoji; they
cannot be encoded as UTF-8 for the provider; and refusing them would make the session unusable,
because the client sends the same history again on every turn (Anthropic's API answers them with
a 400 that users cannot get past). Half a character is all that is lost.

Most bodies are plain standard JSON: they are parsed once by the fast parser of `jsonutil`, which
refuses all of the above by itself, and the depth limit costs nothing more (see `_parse_fast`).
Only a body the fast parser refuses is read again, slowly, to mend its surrogates or to say
exactly what is wrong with it.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import ApiError
from ..jsonutil import loads

# Claude Code's deepest bodies are 10 levels (tool input schemas); MCP tools with nested
# schemas go deeper, so the limit leaves a wide margin while keeping every recursive walk short.
MAX_DEPTH = 64


class NotJsonNumber(ValueError):
    """A number JSON cannot carry (NaN, ±Infinity, or one that overflows a double)."""


def _refuse_constant(token: str) -> Any:
    raise NotJsonNumber(f"{token} is not a JSON value")


def _finite_float(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        raise NotJsonNumber(f"the number {token[:40]} is out of range")
    return value


_decode = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float).decode

# Inside a JSON string only `\\` and `\"` can hide a string's end or fake one: with both pairs
# removed, every `"` left is a real string delimiter. The same left-to-right pass finds escaped
# surrogate halves (`\ud83d`) at no extra cost; they are removed too, which changes no structure.
_ESCAPES = re.compile(rb'\\(?:[\\"]|u[dD][89abcdefABCDEF])')
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'[]{}"')))
_ONE_BRACKET_KIND = bytes.maketrans(b"[{]}", b"(())")  # which kind closes which is the parser's job
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD](?:([89abAB])|[c-fC-F])[0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class CheckedBody:
    """What `check_json_bytes` learned from a body's bytes; the bytes are not needed after it."""

    text: str  # empty when the fast parser already gave `parsed`
    lone_surrogates: bool  # a string escapes half of a surrogate pair alone
    parsed: Any = None  # the value, when the fast parser took the body as it is


def parse_json_body(raw: bytes | bytearray, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The body as a dict; ApiError(400) for anything that is not a plain JSON object."""
    return parse_checked_body(check_json_bytes(raw, max_depth), max_depth)


def check_json_bytes(raw: bytes | bytearray, max_depth: int = MAX_DEPTH) -> CheckedBody:
    """The checks made on the bytes (UTF-8, nesting depth, lone surrogate escapes), and the
    text to parse: a caller holding a big body can drop its bytes before parsing."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    parsed = _parse_fast(raw, max_depth)
    if parsed is not None:  # standard JSON: no lone surrogates, nothing more to check
        return CheckedBody("", False, parsed)
    return _check_slowly(raw, max_depth)


def _fast_parser_depth_limit() -> int:
    """The deepest nesting the fast parser accepts (deeper is a ValueError, never a
    RecursionError); 0 when it accepts the probe's 4096 levels."""

    def accepts(depth: int) -> bool:
        try:
            loads(b"[" * depth + b"]" * depth)
        except ValueError:
            return False
        return True

    if accepts(4096):
        return 0
    accepted, refused = 0, 4096
    while refused - accepted > 1:
        middle = (accepted + refused) // 2
        if accepts(middle):
            accepted = middle
        else:
            refused = middle
    return accepted


_FAST_DEPTH_LIMIT = _fast_parser_depth_limit()
_SMALL_BODY = 16_384  # below this, counting brackets costs less than the padding


def _parse_fast(raw: bytes | bytearray, max_depth: int) -> Any:
    """The parsed body, or None when the fast parser refuses it (or cannot check the depth)."""
    try:
        if len(raw) <= _SMALL_BODY and raw.count(b"[") + raw.count(b"{") <= max_depth:
            return loads(raw)  # too few brackets to nest too deep, whatever the strings hold
        padding = _FAST_DEPTH_LIMIT - max_depth
        if padding < 0:
            return None
        value = loads(b"".join((b"[" * padding, raw, b"]" * padding)))
    except ValueError:
        return None
    # The depth check is the parser's own limit: wrapped in `limit - max_depth` arrays, the
    # body parses only when it nests no deeper than `max_depth`. Each wrapper must hold exactly
    # one item: text that is not one JSON value on its own (`1],[2`, or nothing) cannot close a
    # wrapper and go on without leaving one with two items (or none). The wrapping costs ~0.06
    # ms (a copy of the bytes, the wrappers' lists, this loop), far less than a walk over a
    # large body; a small body's brackets are counted instead.
    for _ in range(padding):
        if len(value) != 1:
            return None
        value = value[0]
    return value


def _check_slowly(raw: bytes | bytearray, max_depth: int) -> CheckedBody:
    """A body the fast parser refused, checked with every step spelled out (the 400s name the
    problem) for the standard library's parse in `parse_checked_body`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"Invalid JSON in request body: not UTF-8 (byte {exc.start})") from None
    unescaped, surrogate_halves = _unescape(raw)
    if _structure_exceeds(unescaped, max_depth):
        raise ApiError(400, f"Invalid JSON in request body: nested deeper than {max_depth} levels")
    return CheckedBody(text, bool(surrogate_halves) and has_lone_surrogate_escape(raw))


def parse_checked_body(checked: CheckedBody, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Parse what `check_json_bytes` passed; ApiError(400) unless it is one plain JSON object."""
    if checked.parsed is not None:
        return _json_object(checked.parsed)
    try:
        body = _decode(checked.text)
    except RecursionError:  # unreachable after the check above; kept so no body can cause a 500
        raise ApiError(400, f"Invalid JSON in request body: nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise ApiError(400, f"Invalid JSON in request body: {exc}") from None
    body = _json_object(body)
    if checked.lone_surrogates:
        replace_lone_surrogates(body)
    return body


def _json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, f"Request body must be a JSON object, got {json_kind(body)}")
    return body


def nesting_exceeds(raw: bytes, limit: int) -> bool:
    """Do the brackets outside strings nest deeper than `limit`? Exact for valid JSON; for invalid
    JSON never lower than the depth a parser reaches before it fails. Uses C-speed byte
    operations only (no per-byte Python loop), so a large body costs little."""
    return _structure_exceeds(_unescape(raw)[0], limit)


def _unescape(raw: bytes | bytearray) -> tuple[bytes, int]:
    """The body without its quote escapes, and how many surrogate-half escapes it has."""
    unescaped, escapes = _ESCAPES.subn(b"", raw)
    # A quote escape removes 2 bytes, a surrogate half's prefix 4: the difference counts the latter.
    return unescaped, (len(raw) - len(unescaped)) // 2 - escapes


def _structure_exceeds(unescaped: bytes, limit: int) -> bool:
    skeleton = unescaped.translate(_ONE_BRACKET_KIND, _NOT_STRUCTURE)
    # Two adjacent quotes are a string without brackets, or the end of one string and the start
    # of the next with no bracket between: dropping them keeps the bracket structure as it is.
    skeleton = skeleton.replace(b'""', b"")
    if b'"' in skeleton:  # the few strings that hold brackets: keep only what is outside them
        skeleton = b"".join(skeleton.split(b'"')[::2])
    if b"(" * (limit + 1) in skeleton:  # the plain attack, found without any pass
        return True
    for passes in range(limit + 1):
        if not skeleton:
            return False
        inner_removed = skeleton.replace(b"()", b"")  # one nesting level less per pass
        if len(inner_removed) == len(skeleton):
            # Unbalanced, so not JSON; what is left is ")...)(...(", as deep as its "(" count.
            return passes + skeleton.count(b"(") > limit
        skeleton = inner_removed
    return True


def has_lone_surrogate_escape(raw: bytes | bytearray) -> bool:
    """Does the body escape half of a surrogate pair without the other half? Proper pairs are
    common (emoji from clients that escape all non-ASCII) and need no walk over the body."""
    high_ends_at = -1  # where the low half must start, after an unmatched high half
    for match in _SURROGATE_ESCAPE.finditer(raw):
        start = before = match.start()
        while before and raw[before - 1] == 0x5C:  # backslashes just before this one
            before -= 1
        if (start - before) % 2:
            continue  # an escaped backslash followed by the text "ud800": not an escape
        if match[1] is not None:  # a high half
            if high_ends_at != -1:
                return True
            high_ends_at = match.end()
        elif start != high_ends_at:
            return True
        else:
            high_ends_at = -1
    return high_ends_at != -1


def replace_lone_surrogates(body: dict[str, Any]) -> None:
    """Replace, in place, every lone surrogate in keys and string values with U+FFFD."""
    stack: list[Any] = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if any(_SURROGATE.search(key) for key in node):
                items = [(_SURROGATE.sub("\ufffd", key), value) for key, value in node.items()]
                node.clear()
                node.update(items)
            for key, value in node.items():
                if isinstance(value, str):
                    if _SURROGATE.search(value):
                        node[key] = _SURROGATE.sub("\ufffd", value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, str):
                    if _SURROGATE.search(value):
                        node[index] = _SURROGATE.sub("\ufffd", value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)


_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def json_kind(value: Any) -> str:
    """What a parsed JSON value is, in words for an error message ("an array", "a number")."""
    return _KINDS.get(type(value), "a number")
