"""Server-sent events: upstream bytes -> JSON chunks (parsed once), events -> bytes.

The parser is line-based like every provider's SSE: only `data:` lines matter, `[DONE]` is
skipped but never terminal (the stream ends at EOF), invalid JSON is skipped, and a complete
`data:` line left without a trailing newline at EOF is still processed.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

import structlog

from ..jsonutil import dumps_bytes, loads
from ..shapes.anthropic import AnthropicEvent

log = structlog.get_logger("ccr_aio.sse")


async def iter_data_lines(byte_chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Yield the payload of every `data:` line. Lines are split as bytes: a newline byte never
    occurs inside a UTF-8 character, and the JSON parser reads UTF-8 itself."""
    pending = b""
    async for raw in byte_chunks:
        if b"\n" not in raw:
            pending += raw
            continue
        lines = (pending + raw if pending else raw).split(b"\n")
        pending = lines.pop()
        for line in lines:
            if line.startswith(b"data:"):
                yield line[5:].strip()
    if pending.startswith(b"data:"):
        yield pending[5:].strip()


async def iter_json_chunks(byte_chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Any]]:
    """Yield each `data:` payload parsed as a JSON object."""
    async for payload in iter_data_lines(byte_chunks):
        if not payload or payload == b"[DONE]":
            continue
        try:
            chunk = loads(payload)
        except ValueError:
            chunk = _lenient(payload)
        if isinstance(chunk, dict):
            yield chunk


def _lenient(payload: bytes) -> Any:
    """A payload the strict parser refused: bytes that are not UTF-8 are read with U+FFFD in
    their place, as a text decoder would; anything else is skipped."""
    try:
        return loads(payload.decode("utf-8", errors="replace"))
    except ValueError:
        log.debug("sse_invalid_json", payload=payload[:200])
        return None


def encode_event(event: AnthropicEvent) -> bytes:
    """Anthropic framing: the event name is the payload's `type`."""
    return b"event: " + event["type"].encode() + b"\ndata: " + dumps_bytes(event) + b"\n\n"


def encode_data(chunk: Mapping[str, Any]) -> bytes:
    """OpenAI framing: data lines only."""
    return b"data: " + dumps_bytes(chunk) + b"\n\n"

