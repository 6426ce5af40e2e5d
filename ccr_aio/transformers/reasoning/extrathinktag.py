"""`extrathinktag`: models that write their reasoning inline as `<think>…</think>` (Qwen,
MiniMax, R1 distills served raw). Response only; the request is left untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ...shapes.unified import UnifiedChunk, UnifiedCompletion
from ..base import Context, Transformer, builtin
from .tags import split_message, tag_stream

START, END = "<think>", "</think>"


@builtin
class ExtraThinkTag(Transformer):
    name = "extrathinktag"

    def stream_out(self, chunks: AsyncIterator[UnifiedChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
        return tag_stream(chunks, START, END, ctx)

    def json_out(self, body: UnifiedCompletion, ctx: Context) -> UnifiedCompletion:
        return split_message(body, START, END, ctx)
