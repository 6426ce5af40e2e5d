"""Decode one string field of a JSON object while the object's text is still streaming in.

`tooluse` uses it to stream ExitTool's `response` to the client as it is generated instead of
in one piece at the end ([FIX]).
"""

from __future__ import annotations

import json
import re
from typing import Literal

_DECODER = json.JSONDecoder(strict=False)  # models put raw newlines inside strings
_HIGH_SURROGATES = frozenset(("d8", "d9", "da", "db"))
FieldState = Literal["seek", "value", "done", "broken"]


class StringFieldStream:
    """Feed fragments of `{"<key>": "..."}`; each call returns the newly decoded text of the
    field. Anything unusual (an invalid escape) stops the stream: `broken` is then True and
    the caller falls back to parsing the whole text at the end."""

    __slots__ = ("_pattern", "_head", "_pending", "state")

    def __init__(self, key: str) -> None:
        self._pattern = re.compile(r'"%s"\s*:\s*"' % re.escape(key))
        self._head = ""  # text before the value starts
        self._pending = ""  # the value's undecoded tail: an escape cut in half
        self.state: FieldState = "seek"  # -> "value" -> "done" | "broken"

    @property
    def broken(self) -> bool:
        return self.state == "broken"

    def feed(self, fragment: str) -> str:
        if self.state == "seek":
            self._head += fragment
            match = self._pattern.search(self._head)
            if match is None:
                return ""
            self.state, fragment, self._head = "value", self._head[match.end() :], ""
        if self.state != "value":
            return ""
        text = self._pending + fragment
        end, cut = _scan(text)
        if end >= 0:
            self.state, body, self._pending = "done", text[:end], ""
        else:
            body, self._pending = text[:cut], text[cut:]
        if not body:
            return ""
        try:
            decoded: str = _DECODER.decode(f'"{body}"')  # a JSON string literal
        except ValueError:
            self.state = "broken"
            return ""
        return decoded


def _scan(text: str) -> tuple[int, int]:
    """(index of the closing quote or -1, length of the prefix that is safe to decode)."""
    pos, size = 0, len(text)
    while pos < size:
        char = text[pos]
        if char == '"':
            return pos, pos
        if char != "\\":
            pos += 1
            continue
        if pos + 1 >= size:
            return -1, pos
        if text[pos + 1] != "u":
            pos += 2
            continue
        if pos + 6 > size:
            return -1, pos
        # A high surrogate is decoded together with the low one that follows it.
        step = 12 if text[pos + 2 : pos + 4].lower() in _HIGH_SURROGATES else 6
        if pos + step > size:
            return -1, pos
        pos += step
    return -1, size
