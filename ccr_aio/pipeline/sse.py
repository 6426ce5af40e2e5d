"""Server-sent events: upstream bytes -> JSON chunks (parsed once), events -> bytes.

The parser is line-based like every provider's SSE: only `data:` lines matter, `[DONE]` is
skipped but never terminal (the stream ends at EOF), invalid JSON is skipped, and a complete
`data:` line left without a trailing newline at EOF is still processed.

Upstream bytes are untrusted: work stays linear in their size (a read is scanned once, never
re-scanned with what came before), and an unfinished line or event may hold at most
`max_line` bytes; past that the answer fails with an error naming the provider.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import structlog

from ..errors import ApiError, error_body
from ..jsonutil import dumps_bytes, loads
from ..shapes.anthropic import AnthropicEvent
from ..transformers.endpoint.mappings import ended_early

log = structlog.get_logger("ccr_aio.sse")
MAX_LINE_BYTES = 16 * 1024 * 1024  # far above any real event (a whole tool call, an image)
# How an Anthropic stream says it is over: `message_stop`, or an error event of its own. Line
# starts only: inside a JSON string, newlines and quotes are escaped.
_STREAM_END = re.compile(rb'(?m)^(?:event: ?|data: ?\{"type": ?")(?:message_stop|error)\b')


def too_long(source: str, limit: int) -> ApiError:
    return ApiError(
        502, f"{source} sent more than {limit} bytes without ending a line or event: the answer was abandoned"
    )


class LineSplitter:
    """Bytes as they arrive → whole lines (without their `\\n`), each read split in one pass.

    Synchronous, so a read's many lines cost one step of the async pipeline, not one per line."""

    def __init__(self, max_line: int = MAX_LINE_BYTES, source: str = "The provider") -> None:
        self.max_line, self.source = max_line, source
        self.held: list[bytes] = []  # the start of a line that has not ended yet
        self.held_size = 0

    def feed(self, raw: bytes) -> list[bytes]:
        if b"\n" not in raw:
            self._hold(raw)
            return []
        lines = raw.split(b"\n")
        rest = lines.pop()
        if self.held:
            lines[0] = b"".join([*self.held, lines[0]])
            self.held, self.held_size = [], 0
        if len(raw) > self.max_line and max(map(len, lines)) > self.max_line:
            raise too_long(self.source, self.max_line)
        if len(lines[0]) > self.max_line:  # a held start joined to this read's first line
            raise too_long(self.source, self.max_line)
        self._hold(rest)
        return lines

    def end(self) -> list[bytes]:
        """The last line, when the bytes ended without a newline."""
        return [b"".join(self.held)] if self.held else []

    def _hold(self, part: bytes) -> None:
        if part:
            self.held.append(part)
            self.held_size += len(part)
            if self.held_size > self.max_line:
                raise too_long(self.source, self.max_line)


async def iter_lines(
    byte_chunks: AsyncIterable[bytes], max_line: int = MAX_LINE_BYTES, source: str = "The provider"
) -> AsyncIterator[bytes]:
    """Yield every line (without its `\\n`), the last one even without a newline."""
    splitter = LineSplitter(max_line, source)
    async for raw in byte_chunks:
        for line in splitter.feed(raw):
            yield line
    for line in splitter.end():
        yield line


ChunkCheck = Callable[[dict[str, Any]], None]  # raises on a chunk the pipeline must not take


async def iter_json_chunks(
    byte_chunks: AsyncIterable[bytes], max_line: int = MAX_LINE_BYTES, source: str = "The provider",
    check: ChunkCheck | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Yield each `data:` payload parsed as a JSON object (and passed by `check`, if given).
    One loop over each read's lines: this runs for every chunk of every stream."""
    splitter = LineSplitter(max_line, source)
    async for raw in byte_chunks:
        for chunk in _data_objects(splitter.feed(raw), check):
            yield chunk
    for chunk in _data_objects(splitter.end(), check):
        yield chunk


def _data_objects(lines: list[bytes], check: ChunkCheck | None) -> Iterator[dict[str, Any]]:
    """The JSON objects of the `data:` lines among `lines` (half of them are the blank lines
    between events), each passed by `check`."""
    for line in lines:
        if line.startswith(b"data:"):
            chunk = _data_object(line)
            if chunk is not None:
                if check is not None:
                    check(chunk)
                yield chunk


def _data_object(line: bytes) -> dict[str, Any] | None:
    payload = line[5:].strip()
    if not payload or payload == b"[DONE]":
        return None
    try:
        chunk = loads(payload)
    except ValueError:
        chunk = _lenient(payload)
    return chunk if isinstance(chunk, dict) else None


def _event_end(before: bytes, raw: bytes) -> int:
    """Where the last whole event in `raw` ends (just past its blank line), or -1. `before` is
    what came just before `raw`, for a blank line split across two reads."""
    end = -1
    for blank in (b"\n\n", b"\n\r\n"):
        at = raw.rfind(blank)
        if at >= 0:
            end = max(end, at + len(blank))
    if end < 0 and before:
        window = before[-2:] + raw[:3]
        for blank in (b"\n\n", b"\n\r\n"):
            at = window.find(blank)
            if at >= 0:
                end = max(end, at + len(blank) - len(before[-2:]))
    return end if end > 0 else -1


async def whole_anthropic_events(
    byte_chunks: AsyncIterable[bytes], provider: str, max_event: int = MAX_LINE_BYTES
) -> AsyncIterator[bytes]:
    """An Anthropic event stream's bytes, relayed untouched but in whole events only.

    If the stream ends cleanly without `message_stop` (or an error event of its own) the answer
    was cut: the half-written event, if any, is dropped and an error event takes its place, so
    the client can neither take the answer as complete nor choke on a broken event."""
    held: list[bytes] = []
    held_size = 0
    ended = False
    async for raw in byte_chunks:
        cut = _event_end(held[-1] if held else b"", raw)
        if cut < 0:
            held.append(raw)
            held_size += len(raw)
            if held_size > max_event:
                raise too_long(f"Provider {provider}", max_event)
            continue
        events = b"".join([*held, raw[:cut]]) if held else raw[:cut]
        held, held_size = ([raw[cut:]], len(raw) - cut) if cut < len(raw) else ([], 0)
        ended = ended or _STREAM_END.search(events) is not None
        yield events
    rest = b"".join(held)
    if ended or _STREAM_END.search(rest):  # a last event without its blank line is still whole
        if rest:
            yield rest
        return
    yield encode_event(error_body(502, ended_early(provider)))


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
