"""Reasoning written inline between tags (`<think>…</think>`) -> the thinking protocol.

The reference's state machine with [FIX]es: leading whitespace before the
start tag is allowed, text that cannot begin with the start tag is the answer (the reference
discarded all of it), `finish_reason` / usage chunks are always forwarded, and buffered text is
flushed when the answer ends (tool calls, finish, end of input) instead of being lost.
Shared by `forcereasoning` (`<reasoning_content>`) and `extrathinktag` (`<think>`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final, Literal

from ...shapes.unified import UnifiedChunk, UnifiedCompletion, UnifiedMessage
from ..base import Context
from ..shared import signatures
from .thinking import envelope_chunk, with_delta

SplitterState = Literal["searching", "inside", "final"]
SEARCHING: Final = "searching"
INSIDE: Final = "inside"
FINAL: Final = "final"
Piece = tuple[Literal["thinking", "signature", "text"], str]  # ("thinking", text) | ("signature", "") | ("text", text)


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class TagSplitter:
    """Splits streamed text into thinking and answer pieces; one instance per response."""

    def __init__(self, start: str, end: str) -> None:
        self.start, self.end = start, end
        self.state: SplitterState = SEARCHING
        self.buffer = ""  # SEARCHING: text that may still open with the tag; INSIDE: a partial end tag
        self.blank = ""  # FINAL: whitespace held back until non-blank text follows
        self.answered = False  # FINAL text has been emitted

    def feed(self, text: str) -> list[Piece]:
        pieces: list[Piece] = []
        text, self.buffer = self.buffer + text, ""
        while text:
            if self.state == SEARCHING:
                stripped = text.lstrip()
                if stripped.startswith(self.start):
                    self.state, text = INSIDE, stripped[len(self.start) :]
                elif self.start.startswith(stripped):  # blank, or a prefix of the tag so far
                    self.buffer, text = text, ""
                else:
                    self.state = FINAL  # no tag: this is the answer, whitespace included
            elif self.state == INSIDE:
                at = text.find(self.end)
                if at >= 0:
                    if at:
                        pieces.append(("thinking", text[:at]))
                    pieces.append(("signature", ""))
                    self.state, text = FINAL, text[at + len(self.end) :]
                else:
                    held = _partial_suffix(text, self.end)
                    if len(text) > held:
                        pieces.append(("thinking", text[: len(text) - held]))
                    self.buffer, text = text[len(text) - held :], ""
            else:
                if text.strip():
                    pieces.append(("text", self.blank + text))
                    self.blank, self.answered = "", True
                else:
                    self.blank += text
                text = ""
        return pieces

    def flush(self) -> list[Piece]:
        """The answer ends here: close an open thinking block, emit held text. Whitespace that
        would only open an empty-looking text block (nothing answered yet) is dropped."""
        pieces: list[Piece] = []
        if self.state == INSIDE:
            if self.buffer:
                pieces.append(("thinking", self.buffer))
            pieces.append(("signature", ""))
            self.state = FINAL
        elif self.state == SEARCHING and self.buffer.strip():
            pieces.append(("text", self.buffer))
            self.state, self.answered = FINAL, True
        elif self.state == FINAL and self.blank and self.answered:
            pieces.append(("text", self.blank))
        self.buffer = self.blank = ""
        return pieces


def _piece_chunk(template: UnifiedChunk, piece: Piece, ctx: Context) -> UnifiedChunk:
    kind, text = piece
    if kind == "thinking":
        return envelope_chunk(template, {"thinking": {"content": text}})
    if kind == "signature":
        return envelope_chunk(template, {"thinking": {"signature": signatures.synthesize(ctx)}})
    return envelope_chunk(template, {"content": text})


async def tag_stream(
    chunks: AsyncIterator[UnifiedChunk], start: str, end: str, ctx: Context
) -> AsyncIterator[UnifiedChunk]:
    splitter = TagSplitter(start, end)
    template: UnifiedChunk | None = None
    async for chunk in chunks:
        choices = chunk.get("choices")
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            yield chunk  # usage-only chunks, errors
            continue
        template = chunk
        choice = choices[0]
        delta = choice.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        content = delta.get("content")
        pieces = splitter.feed(content) if isinstance(content, str) and content else []
        if delta.get("tool_calls") or choice.get("finish_reason"):
            pieces += splitter.flush()
        for piece in pieces:
            yield _piece_chunk(chunk, piece, ctx)
        if not isinstance(content, str):
            yield chunk  # tool calls, role, finish: untouched
            continue
        rest = delta.copy()
        del rest["content"]
        if any(value not in (None, "") for value in rest.values()) or choice.get("finish_reason") or chunk.get("usage"):
            yield with_delta(chunk, rest)
    if template is not None:
        for piece in splitter.flush():
            yield _piece_chunk(template, piece, ctx)


def split_message(body: UnifiedCompletion, start: str, end: str, ctx: Context) -> UnifiedCompletion:
    """Non-stream: the tagged reasoning goes to `choices[0].message.thinking` and leaves the
    content, which keeps the answer without its leading whitespace. Untagged content is left
    as it is. Returns a new body when changed."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return body
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        return body
    content = message.get("content")
    if not isinstance(content, str) or start not in content:
        return body
    splitter = TagSplitter(start, end)
    pieces = splitter.feed(content) + splitter.flush()
    thinking = "".join(text for kind, text in pieces if kind == "thinking")
    if not any(kind == "signature" for kind, _ in pieces):
        return body  # the tag was inside the answer, not at its start
    answer = "".join(text for kind, text in pieces if kind == "text").lstrip()
    new_message: UnifiedMessage = {**message, "content": answer}
    new_message["thinking"] = {"content": thinking, "signature": signatures.synthesize(ctx)}
    return {**body, "choices": [{**choice, "message": new_message}, *choices[1:]]}
