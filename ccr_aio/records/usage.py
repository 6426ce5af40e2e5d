"""Token usage of one answer, as the client was told it (Anthropic's usage fields).

The request path hands over what it sends: the `message_start` and `message_delta` events of
a stream, or the `usage` of a JSON message. Anthropic's counts are cumulative, so a count
that an event carries replaces the one before it — the last one the client saw wins. (Our own
converted streams put an estimate in `message_start` and the provider's real numbers in the
final `message_delta`; a native Anthropic stream puts the prompt counts in `message_start`
and the output count in `message_delta`: the rule gives the right totals for both.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Anthropic usage field -> our name for it.
FIELDS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_input_tokens": "cache_read_tokens",
    "cache_creation_input_tokens": "cache_creation_tokens",
}
# A raw stream read that ends mid-event keeps its tail until the rest arrives; one event is
# never near this big, so a tail beyond it is not an event worth waiting for.
MAX_TAIL_BYTES = 1 << 20


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0

    def update(self, usage: Any) -> None:
        """Take the counts an Anthropic `usage` object carries; absent or null ones stay."""
        if not isinstance(usage, Mapping):
            return
        for source, name in FIELDS.items():
            value = usage.get(source)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                setattr(self, name, value)

    def observe_event(self, event: Any) -> None:
        """One Anthropic stream event as sent to the client; only two kinds carry usage."""
        if not isinstance(event, Mapping):
            return
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message")
            if isinstance(message, Mapping):
                self.update(message.get("usage"))
        elif kind == "message_delta":
            self.update(event.get("usage"))

    def observe_message(self, message: Any) -> None:
        """A whole (non-streamed) Anthropic message."""
        if isinstance(message, Mapping):
            self.update(message.get("usage"))


class SseUsageScanner:
    """Finds the usage in an Anthropic stream passed through as raw bytes (the bypass path),
    without parsing the events that carry none. Reads may split an event anywhere."""

    __slots__ = ("usage", "_tail")

    def __init__(self, usage: Usage) -> None:
        self.usage = usage
        self._tail = b""

    def feed(self, data: bytes) -> None:
        if self._tail:
            data = self._tail + data
        end = data.rfind(b"\n") + 1
        tail = data[end:]
        self._tail = tail if len(tail) <= MAX_TAIL_BYTES else b""
        if b'"usage"' not in data:
            return
        for line in data[:end].split(b"\n"):
            if line.startswith(b"data:") and b'"usage"' in line:
                try:
                    event = json.loads(line[5:])
                except ValueError:
                    continue
                self.usage.observe_event(event)
