"""Tell when a JSON object arriving in fragments (a streamed tool call's arguments) is whole.

Parsing everything received so far at each fragment that might end it is quadratic: a 2 MB
`Write` call of code (where many fragments end in `}`) took 38 s of CPU. `ObjectEnd` scans each
fragment once, tracking strings, escapes and nesting, and parses the text only when the
outermost object has just closed, to confirm it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_IN_STRING = re.compile(r'["\\]')
_STRUCTURE = re.compile(r'[{}\[\]"]')


class ObjectEnd:
    __slots__ = ("depth", "in_string", "escaped", "closed", "broken", "confirmed")

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.escaped = False  # a backslash ended the last fragment: skip the next character
        self.closed = False  # the outermost object has closed
        self.broken = False  # not one object: something other than `{` first, or text after it
        self.confirmed: bool | None = None  # what parsing said once the object closed

    def feed(self, text: str) -> None:
        pos, size = 0, len(text)
        if self.escaped and size:
            pos, self.escaped = 1, False
        while pos < size and not self.broken:
            if self.in_string:
                match = _IN_STRING.search(text, pos)
                if match is None:
                    return
                if match.group() == "\\":
                    self.escaped = match.end() >= size
                    pos = match.end() + 1
                else:
                    self.in_string, pos = False, match.end()
                continue
            if self.closed:
                self.broken = bool(text[pos:].strip())
                return
            match = _STRUCTURE.search(text, pos)
            if self.depth == 0:  # before the object: whitespace only, then its `{`
                before = text[pos : match.start() if match else size]
                if before.strip() or (match is not None and match.group() != "{"):
                    self.broken = True
                    return
            if match is None:
                return
            char, pos = match.group(), match.end()
            if char == '"':
                self.in_string = True
            elif char in "{[":
                self.depth += 1
            else:
                self.depth -= 1
                self.closed = self.depth == 0

    def whole(self, text: Callable[[], str], parse: Callable[[str], Any]) -> bool:
        """True when the fragments fed so far are one whole object; `text()` gives them joined
        and is only called (and parsed) once, when the object first closes."""
        if not self.closed or self.broken:
            return False
        if self.confirmed is None:
            try:
                self.confirmed = isinstance(parse(text()), dict)
            except ValueError:
                self.confirmed = False
        return self.confirmed
