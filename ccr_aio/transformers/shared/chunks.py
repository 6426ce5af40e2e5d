"""Helpers for stream transformers that rewrite unified (OpenAI chat) chunks.

The rule they enforce ([FIX]): a chunk carrying `finish_reason` or `usage`
is never dropped, and when one upstream chunk becomes several, only the last carries them.
Derived chunks are new dicts; the upstream chunk is never mutated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import TypeVar, overload

from ...shapes.unified import (
    ChunkChoice,
    CompletionChoice,
    Delta,
    ToolCall,
    UnifiedChunk,
    UnifiedCompletion,
    UnifiedMessage,
    Usage,
)

T = TypeVar("T")


@overload
def first_choice(  # type: ignore[overload-overlap]  # only an empty dict fits both shapes
    chunk: UnifiedChunk,
) -> ChunkChoice | None: ...
@overload
def first_choice(chunk: UnifiedCompletion) -> CompletionChoice | None: ...
def first_choice(chunk: UnifiedChunk | UnifiedCompletion) -> ChunkChoice | CompletionChoice | None:
    """`choices[0]` when it is a dict (only the first choice is ever consumed)."""
    choices = chunk.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None


def derive(
    chunk: UnifiedChunk,
    choice: ChunkChoice,
    deltas: list[Delta],
    finish_reason: str | None,
    tail: bool = True,
) -> list[UnifiedChunk]:
    """One chunk per non-empty delta, cut from `chunk`. With `tail`, the last one carries
    `finish_reason` and the chunk's `usage` (an empty delta is kept for them when nothing else
    is left); without it, none does (used to append chunks after the stream's last one)."""
    deltas = [delta for delta in deltas if delta]
    usage = chunk.get("usage") if tail else None
    if not deltas:
        if not tail or (finish_reason is None and usage is None):
            return []
        deltas = [{}]
    last = len(deltas) - 1
    out = []
    for pos, delta in enumerate(deltas):
        carries = tail and pos == last
        derived: UnifiedChunk = {
            **chunk, "choices": [{**choice, "delta": delta, "finish_reason": finish_reason if carries else None}]
        }
        if not carries:
            derived.pop("usage", None)
        out.append(derived)
    return out


class ToolKeys:
    """A stable int key per tool call of one stream. The `index` when the upstream sends one;
    without it ([FIX]) a new `id` starts a new call and anything else continues the last."""

    __slots__ = ("last", "last_id", "top")

    def __init__(self) -> None:
        self.last: int | None = None
        self.last_id: str | None = None
        self.top = -1

    def key(self, call: ToolCall) -> int:
        index = call.get("index")
        if isinstance(index, int) and not isinstance(index, bool):
            key = index
        else:
            call_id = call.get("id")
            if self.last is None or (call_id and call_id != self.last_id):
                key = self.top + 1
            else:
                key = self.last
        if call.get("id"):
            self.last_id = call["id"]
        self.last, self.top = key, max(self.top, key)
        return key


def new_chunk(
    chunk_id: str, created: int, model: str | None, delta: Delta,
    finish: str | None = None, usage: Usage | None = None,
) -> UnifiedChunk:
    """A unified chunk built from scratch (for dialects whose stream is not OpenAI's)."""
    chunk: UnifiedChunk = {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage:
        chunk["usage"] = usage
    return chunk


@asynccontextmanager
async def closing(chunks: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """Close the upstream iterator when a converter stops early or is cancelled, so the
    provider's connection is released at once rather than when garbage is collected."""
    try:
        yield chunks
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


def new_completion(
    completion_id: str, created: int, model: str, message: UnifiedMessage,
    finish: str | None, usage: Usage | None = None,
) -> UnifiedCompletion:
    """A unified non-streaming answer (OpenAI `chat.completion`) built from scratch."""
    result: UnifiedCompletion = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage:
        result["usage"] = usage
    return result


async def run_converter(
    chunks: AsyncIterator[T],
    feed: Callable[[T], Iterable[UnifiedChunk]],
    end: Callable[[], Iterable[UnifiedChunk]],
) -> AsyncIterator[UnifiedChunk]:
    """Drive a stream state machine: what `feed` makes of each upstream item, then what `end`
    flushes; the upstream is closed however the consumer stops."""
    async with closing(chunks):
        async for chunk in chunks:
            for out in feed(chunk):
                yield out
        for out in end():
            yield out
