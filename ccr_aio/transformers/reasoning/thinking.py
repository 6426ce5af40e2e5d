"""Provider reasoning fields -> the unified thinking protocol, and back on later turns.

Providers stream their chain of thought in their own delta field: DeepSeek and vLLM in
`reasoning_content` (newer vLLM in `reasoning`), OpenRouter and Vercel in `reasoning` plus
`reasoning_details` (which also carries real signatures). `ReasoningStream` turns those into
`delta.thinking.content` chunks and ends every thinking block with a chunk that holds only
`delta.thinking.signature` (the thinking protocol of docs/architecture.md), emitted on its own
before the chunk that ended the reasoning, so that chunk's content or tool calls are never
duplicated. Chunks with `finish_reason` or `usage` are always forwarded [FIX].

On the request side, `replay_reasoning` turns the assistant `thinking` extension back into the
provider's field, because DeepSeek answers 400 when a thinking turn's reasoning is missing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from ...shapes.unified import ChunkChoice, Delta, UnifiedChunk, UnifiedCompletion, UnifiedMessage
from ..base import Context
from ..shared import signatures

_ENVELOPE = ("id", "object", "created", "model")


@dataclass(frozen=True)
class ReasoningFields:
    """Where one provider puts reasoning in a delta (or a non-stream message)."""

    keys: tuple[str, ...] = ("reasoning_content",)  # plain text fields; the first non-empty wins
    details: bool = False  # OpenRouter-style `reasoning_details` (text fallback, real signatures)
    source: str = ""  # tags real signatures (see shared/signatures.py); "" means the provider has none

    @property
    def all_keys(self) -> tuple[str, ...]:
        return (*self.keys, "reasoning_details") if self.details else self.keys

    def extract(self, part: Mapping[str, Any]) -> tuple[str, str | None]:
        """(reasoning text, tagged real signature or None) of a delta or message."""
        text = ""
        for key in self.keys:
            value = part.get(key)
            if value and isinstance(value, str):
                text = value
                break
        signature = None
        details = part.get("reasoning_details") if self.details else None
        if details and isinstance(details, list):
            texts = []
            for item in details:
                if not isinstance(item, dict):
                    continue
                piece = item.get("text") or item.get("summary")
                if piece and isinstance(piece, str):
                    texts.append(piece)
                if item.get("signature") and isinstance(item["signature"], str) and self.source:
                    signature = signatures.tag(self.source, item["signature"], item.get("format"))
            if not text:  # `reasoning` usually repeats the details' text; never count it twice
                text = "".join(texts)
        return text, signature


def envelope_chunk(template: UnifiedChunk, delta: Delta) -> UnifiedChunk:
    """A fresh chunk with `template`'s id/model/... and one choice holding `delta`."""
    source: Mapping[str, Any] = template
    chunk = cast(UnifiedChunk, {key: source[key] for key in _ENVELOPE if key in source})
    chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": None}]
    return chunk


def with_delta(chunk: UnifiedChunk, delta: Delta) -> UnifiedChunk:
    """A copy of `chunk` whose first choice has `delta` (the original is left untouched)."""
    choices = chunk["choices"]
    return {**chunk, "choices": [{**choices[0], "delta": delta}, *choices[1:]]}


def first_delta(chunk: UnifiedChunk) -> Delta | None:
    """`choices[0].delta` when the chunk has one (usage-only and error chunks have none)."""
    choices = chunk.get("choices")
    if choices and isinstance(choices, list) and isinstance(choices[0], dict):
        delta = choices[0].get("delta")
        if isinstance(delta, dict):
            return delta
    return None


def ends_reasoning(delta: Delta, choice: ChunkChoice) -> bool:
    """Does this delta start the answer (or end the message), so thinking is over?"""
    return bool(
        choice.get("finish_reason")
        or (delta.get("content") and isinstance(delta.get("content"), str))
        or delta.get("tool_calls")
        or delta.get("annotations")
    )


def _has_payload(delta: Mapping[str, Any]) -> bool:
    return any(value not in (None, "") for value in delta.values())


class ReasoningStream:
    """Per-stream state; create one inside the stream generator. `feed` maps one upstream chunk
    to the chunks to emit, `end` gives what to emit at end of input."""

    def __init__(self, fields: ReasoningFields, ctx: Context) -> None:
        self.fields = fields
        self.keys = fields.all_keys
        self.ctx = ctx
        self.open = False  # a thinking block is streaming and still lacks its signature
        self.template: UnifiedChunk | None = None

    def signature_chunk(self, template: UnifiedChunk, signature: str | None = None) -> UnifiedChunk:
        self.open = False
        return envelope_chunk(template, {"thinking": {"signature": signature or signatures.synthesize(self.ctx)}})

    def feed(self, chunk: UnifiedChunk) -> list[UnifiedChunk]:
        choices = chunk.get("choices")
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            return [chunk]  # usage-only chunks, errors: forwarded as they are
        self.template = chunk
        choice = choices[0]
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            delta = {}  # a bare finish still ends the reasoning
        if not any(key in delta for key in self.keys):
            if self.open and ends_reasoning(delta, choice):
                return [self.signature_chunk(chunk), chunk]
            return [chunk]

        text, signature = self.fields.extract(delta)
        # A Delta without the provider's reasoning fields (which the Delta shape does not name).
        rest = cast(Delta, {key: value for key, value in delta.items() if key not in self.keys})
        out: list[UnifiedChunk] = []
        if text:
            thinking_delta: Delta = {"thinking": {"content": text}}
            if "role" in rest:
                thinking_delta["role"] = rest.pop("role")
            out.append(envelope_chunk(chunk, thinking_delta))
            self.open = True
        if self.open and (signature or ends_reasoning(rest, choice)):
            out.append(self.signature_chunk(chunk, signature))
        if _has_payload(rest) or choice.get("finish_reason") or chunk.get("usage"):
            out.append(with_delta(chunk, rest))
        return out

    def end(self) -> list[UnifiedChunk]:
        if self.open and self.template is not None:
            return [self.signature_chunk(self.template)]
        return []


async def reasoning_stream(
    chunks: AsyncIterator[UnifiedChunk], fields: ReasoningFields, ctx: Context
) -> AsyncIterator[UnifiedChunk]:
    """The whole stream through one `ReasoningStream`."""
    state = ReasoningStream(fields, ctx)
    async for chunk in chunks:
        for out in state.feed(chunk):
            yield out
    for out in state.end():
        yield out


def message_reasoning(body: UnifiedCompletion, fields: ReasoningFields, ctx: Context) -> UnifiedCompletion:
    """Non-stream: move the provider's reasoning into `choices[0].message.thinking` (with a
    signature: the tagged real one, or a synthesized one). Returns a new body when changed."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return body
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict) or not any(key in message for key in fields.all_keys):
        return body
    text, signature = fields.extract(message)
    new_message = cast(UnifiedMessage, {key: value for key, value in message.items() if key not in fields.all_keys})
    if text and not isinstance(message.get("thinking"), dict):
        new_message["thinking"] = {"content": text, "signature": signature or signatures.synthesize(ctx)}
    return {**body, "choices": [{**choice, "message": new_message}, *choices[1:]]}


def replay_reasoning(messages: list[Any], field: str | None, placeholder: bool = False) -> list[Any]:
    """Assistant `thinking` -> `{field: content}` (DeepSeek style), dropping the extension that
    strict providers reject; `field=None` only drops it. Signatures are never replayed: these
    providers have none, so any signature here is foreign. With `placeholder`, assistant turns
    without reasoning (another model's, or a turn that did not think) get `field: ""`, since
    DeepSeek's thinking mode rejects any assistant message without the field. Returns a new list."""
    out = []
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "assistant":
            if "thinking" in message or (placeholder and field and field not in message):
                thinking = message.get("thinking")
                message = {key: value for key, value in message.items() if key != "thinking"}
                content = thinking.get("content") if isinstance(thinking, dict) else None
                if field and content and isinstance(content, str):
                    message[field] = content
                elif field and placeholder:
                    message.setdefault(field, "")
        elif isinstance(message, dict) and "thinking" in message:
            message = {key: value for key, value in message.items() if key != "thinking"}
        out.append(message)
    return out


def thinking_mode(request: Mapping[str, Any]) -> bool:
    """Does this request ask for reasoning (so every assistant turn must carry its field)?"""
    reasoning = request.get("reasoning")
    thinking = request.get("thinking")
    return bool(
        (isinstance(reasoning, dict) and reasoning.get("enabled") is not False and reasoning.get("effort") != "none")
        or (isinstance(thinking, dict) and thinking.get("type") == "enabled")
        or "reasoner" in str(request.get("model") or "").lower()
    )
