"""Gemini `GenerateContentResponse` (JSON or SSE chunks) -> unified OpenAI-shaped answers
(with the [FIX]es).

Thinking follows the thinking protocol (docs/architecture.md): thought parts stream as
`delta.thinking.content`, and the first `thoughtSignature` after them (tagged, see `request.py`)
ends the block. On Gemini 3 the signature arrives with the answer, after the thoughts, so answer
text that comes first is held back until it does (otherwise the client would close the thinking
block with a made-up signature and the real one could never be replayed). A signature that no
open thinking block takes stays on its functionCall (`shared/tool_signatures.py`), and one on a
text part is dropped: Gemini does not require those back, and a thinking block made up to carry
it would show the user text the model never wrote. A finish always yields its own chunk with
the usage.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ....errors import ApiError
from ....jsonutil import dumps
from ....shapes.unified import (
    Annotation,
    Delta,
    ProviderBody,
    ProviderChunk,
    Thinking,
    ToolCall,
    UnifiedChunk,
    UnifiedCompletion,
    UnifiedError,
    UnifiedMessage,
    Usage,
)
from ...base import Context
from ...shared.chunks import new_chunk, new_completion, run_converter
from ...shared.tool_signatures import with_signature
from .request import is_gemini3, mark_signature

_FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT"}
)


def finish_reason(reason: Any, had_tools: bool) -> str | None:
    if not isinstance(reason, str) or not reason:
        return None
    if reason == "STOP":
        return "tool_calls" if had_tools else "stop"
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _FILTERED:
        return "content_filter"
    return reason.lower()


def unified_usage(meta: Any) -> Usage:
    """usageMetadata -> unified usage. Thought tokens count as output, as Anthropic and OpenAI
    count them (the reference left them out of completion_tokens)."""
    meta = meta if isinstance(meta, dict) else {}
    prompt = meta.get("promptTokenCount") or 0
    thoughts = meta.get("thoughtsTokenCount") or 0
    completion = (meta.get("candidatesTokenCount") or 0) + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": meta.get("totalTokenCount") or prompt + completion,
        "prompt_tokens_details": {"cached_tokens": meta.get("cachedContentTokenCount") or 0},
        "output_tokens_details": {"reasoning_tokens": thoughts},
    }


def gemini_error(error: Any) -> UnifiedError:
    """A Gemini `{code, message, status}` error -> the unified error object (numeric `code`
    picks the Anthropic error type downstream; Gemini's string `status` would not)."""
    if not isinstance(error, dict):
        return {"message": str(error), "code": 500}
    code = error.get("code")
    message = error.get("message") or dumps(error)
    if error.get("status"):
        message = f"{error['status']}: {message}"
    return {"message": message, "code": code if isinstance(code, int) else 500}


def _blocked(body: Mapping[str, Any]) -> UnifiedError:
    feedback = body.get("promptFeedback")
    if not isinstance(feedback, dict):
        feedback = {}
    reason = feedback.get("blockReason")
    if reason:
        message = f"Gemini blocked the prompt ({reason})"
        if feedback.get("blockReasonMessage"):
            message += f": {feedback['blockReasonMessage']}"
        return {"message": message, "code": 400}
    return {"message": f"Gemini returned no candidates: {dumps(body)[:500]}", "code": 502}


def grounding_annotations(grounding: Any) -> list[Annotation]:
    """groundingMetadata -> url_citation annotations."""
    if not isinstance(grounding, dict):
        return []
    supports = [s for s in grounding.get("groundingSupports") or () if isinstance(s, dict)]
    result: list[Annotation] = []
    for index, chunk in enumerate(grounding.get("groundingChunks") or ()):
        web = chunk.get("web") if isinstance(chunk, dict) else None
        if not isinstance(web, dict):
            continue
        support = next((s for s in supports if index in (s.get("groundingChunkIndices") or ())), None)
        segment = support.get("segment") if support else None
        if not isinstance(segment, dict):
            segment = {}
        result.append(
            {
                "type": "url_citation",
                "url_citation": {
                    "url": web.get("uri") or "",
                    "title": web.get("title") or "",
                    "content": segment.get("text") or "",
                    "start_index": segment.get("startIndex") or 0,
                    "end_index": segment.get("endIndex") or 0,
                },
            }
        )
    return result


def _parts(candidate: dict[str, Any]) -> list[dict[str, Any]]:
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


def _signed_part(parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((p for p in parts if p.get("thoughtSignature")), None)


def _tool_call(part: dict[str, Any], tool_id: str, taken: dict[str, Any] | None) -> ToolCall:
    """The unified call of a functionCall part, with the part's signature unless a thinking
    block already took it (`taken` is the part whose signature closed one)."""
    call = part["functionCall"]
    args = call.get("args")
    tool: ToolCall = {
        "id": call.get("id") or tool_id,
        "type": "function",
        "function": {"name": call.get("name") or "", "arguments": dumps(args if isinstance(args, dict) else {})},
    }
    return tool if part is taken else with_signature(tool, part.get("thoughtSignature"))


def gemini_json_to_unified(body: ProviderBody, ctx: Context) -> UnifiedCompletion:
    if body.get("error") is not None:
        error = gemini_error(body["error"])
        code = error.get("code")  # an int, from gemini_error
        raise ApiError(code if isinstance(code, int) and 400 <= code < 600 else 502, error.get("message") or "")
    candidates = body.get("candidates")
    candidate = candidates[0] if isinstance(candidates, list) and candidates else None
    if not isinstance(candidate, dict):
        error = _blocked(body)
        code = error.get("code")  # an int, from _blocked
        raise ApiError(code if isinstance(code, int) else 502, error.get("message") or "")
    parts = _parts(candidate)
    thinking_text = "".join(p.get("text") or "" for p in parts if p.get("thought"))
    text = "\n".join(p["text"] for p in parts if not p.get("thought") and isinstance(p.get("text"), str) and p["text"])
    message: UnifiedMessage = {"role": "assistant", "content": text}
    signed = _signed_part(parts) if thinking_text else None
    if thinking_text:
        thinking: Thinking = {"content": thinking_text}
        if signed is not None:
            thinking["signature"] = mark_signature(signed["thoughtSignature"])
        message["thinking"] = thinking
    calls = [
        _tool_call(p, ctx.new_id("tool_"), signed)
        for p in parts
        if not p.get("thought") and isinstance(p.get("functionCall"), dict)
    ]
    if calls:
        message["tool_calls"] = calls
    cited = grounding_annotations(candidate.get("groundingMetadata"))
    if cited:
        message["annotations"] = cited
    return new_completion(
        body.get("responseId") or ctx.new_id("chatcmpl-"),
        int(time.time()),
        body.get("modelVersion") or ctx.model,
        message,
        finish_reason(candidate.get("finishReason"), bool(calls)),
        unified_usage(body.get("usageMetadata")),
    )


class _Stream:
    """Per-stream state of the chunk conversion; `feed` returns the unified chunks for one
    Gemini chunk."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.id = ""
        self.model = ctx.model
        self.created = int(time.time())
        self.has_thinking = False
        self.signed = False  # the current thinking block got its signature
        self.pending: list[str] = []  # Gemini 3 answer text waiting for the signature
        self.tool_index = -1
        self.cited = False
        self.usage: Usage | None = None  # last usage not yet sent
        self.out: list[UnifiedChunk] = []

    def emit(self, delta: Delta, finish: str | None = None, usage: Usage | None = None) -> None:
        self.out.append(new_chunk(self.id, self.created, self.model, delta, finish, usage))

    def flush_pending(self) -> None:
        if self.pending:
            self.emit({"role": "assistant", "content": "".join(self.pending)})
            self.pending = []

    def feed(self, chunk: ProviderChunk) -> list[UnifiedChunk]:
        self.out = []
        if chunk.get("error") is not None:
            self.flush_pending()
            self.out.append({"error": gemini_error(chunk["error"])})
            return self.out
        self.id = chunk.get("responseId") or self.id
        self.model = chunk.get("modelVersion") or self.model
        if chunk.get("usageMetadata"):
            self.usage = unified_usage(chunk["usageMetadata"])
        candidates = chunk.get("candidates")
        candidate = candidates[0] if isinstance(candidates, list) and candidates else None
        if not isinstance(candidate, dict):
            if isinstance(chunk.get("promptFeedback"), dict) and chunk["promptFeedback"].get("blockReason"):
                self.out.append({"error": _blocked(chunk)})
            elif self.usage is not None:
                self.emit({}, usage=self.usage)
                self.usage = None
            return self.out
        self.candidate(candidate)
        return self.out

    def candidate(self, candidate: dict[str, Any]) -> None:
        parts = _parts(candidate)
        for part in parts:
            if part.get("thought") and isinstance(part.get("text"), str) and part["text"]:
                self.signed = False  # thoughts after a signed block start a new block
                self.has_thinking = True
                self.emit({"role": "assistant", "content": None, "thinking": {"content": part["text"]}})
        signed = _signed_part(parts) if self.has_thinking and not self.signed else None
        if signed is not None:
            signature = mark_signature(signed["thoughtSignature"])
            self.emit({"role": "assistant", "content": None, "thinking": {"signature": signature}})
            self.signed = True
            self.flush_pending()
        text = "\n".join(
            p["text"] for p in parts if not p.get("thought") and isinstance(p.get("text"), str) and p["text"]
        )
        if text and self.has_thinking and not self.signed:
            if is_gemini3(self.model):
                self.pending.append(text)
                text = ""
            else:  # Gemini 2.5 signs function calls only: close the block now
                self.emit({"role": "assistant", "content": None, "thinking": {"signature": self.ctx.new_id("ccr_")}})
                self.signed = True
        delta: Delta = {}
        if text:
            delta = {"role": "assistant", "content": text}
        cited = [] if self.cited else grounding_annotations(candidate.get("groundingMetadata"))
        if cited:
            self.cited = True
            delta["annotations"] = cited
        if delta:
            self.emit(delta)
        for part in parts:
            if isinstance(part.get("functionCall"), dict) and not part.get("thought"):
                self.flush_pending()
                self.tool_index += 1
                tool = _tool_call(part, self.ctx.new_id("ccr_tool_"), signed)
                self.emit({"role": "assistant", "tool_calls": [{**tool, "index": self.tool_index}]})
        reason = candidate.get("finishReason")
        if reason:
            self.flush_pending()
            self.emit({}, finish_reason(reason, self.tool_index >= 0), self.usage)
            self.usage = None

    def end(self) -> list[UnifiedChunk]:
        self.out = []
        self.flush_pending()
        if self.usage is not None:
            self.emit({}, usage=self.usage)
        return self.out


def gemini_stream_to_unified(chunks: AsyncIterator[ProviderChunk], ctx: Context) -> AsyncIterator[UnifiedChunk]:
    stream = _Stream(ctx)
    return run_converter(chunks, stream.feed, stream.end)
