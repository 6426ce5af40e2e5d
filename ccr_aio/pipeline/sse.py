"""Server-sent events: upstream bytes -> JSON chunks (parsed once), events -> bytes.

The parser is line-based like every provider's SSE: only `data:` lines matter, `[DONE]` is
skipped but never terminal (the stream ends at EOF), invalid JSON is skipped, and a complete
`data:` line left without a trailing newline at EOF is still processed.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

import structlog

from ..jsonutil import dumps, loads
from ..shapes.anthropic import AnthropicEvent

log = structlog.get_logger("ccr_aio.sse")


async def iter_data_lines(byte_chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """Yield the payload of every `data:` line, decoding UTF-8 across read boundaries."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    async for raw in byte_chunks:
        text = pending + decoder.decode(raw)
        if "\n" not in text:
            pending = text
            continue
        lines = text.split("\n")
        pending = lines.pop()
        for line in lines:
            if line.startswith("data:"):
                yield line[5:].strip()
    pending += decoder.decode(b"", final=True)
    if pending.startswith("data:"):
        yield pending[5:].strip()


async def iter_json_chunks(byte_chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Any]]:
    """Yield each `data:` payload parsed as a JSON object."""
    async for payload in iter_data_lines(byte_chunks):
        if not payload or payload == "[DONE]":
            continue
        try:
            chunk = loads(payload)
        except ValueError:
            log.debug("sse_invalid_json", payload=payload[:200])
            continue
        if isinstance(chunk, dict):
            yield chunk


def encode_event(event: AnthropicEvent) -> bytes:
    """Anthropic framing: the event name is the payload's `type`."""
    return f"event: {event['type']}\ndata: {dumps(event)}\n\n".encode()


def encode_data(chunk: Mapping[str, Any]) -> bytes:
    """OpenAI framing: data lines only."""
    return f"data: {dumps(chunk)}\n\n".encode()

