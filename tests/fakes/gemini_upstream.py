"""A fake Google AI Studio (Gemini API) over real HTTP, scripted per test.

`POST /v1beta/models/{model}:generateContent` answers JSON, `:streamGenerateContent?alt=sse`
answers SSE (CRLF-framed, as Google sends it). The `x-goog-api-key` header must match `api_key`.
A queued reply is a list of GenerateContentResponse chunks; a JSON request gets them merged into
one response, so one script serves both modes. Requests are recorded for assertions.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class GeminiReply:
    chunks: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    body: Any = None  # a JSON body sent as is (errors, odd shapes)


@dataclass
class GeminiRequest:
    path: str
    model: str
    action: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


def part_chunk(
    parts: list[dict[str, Any]],
    finish: str | None = None,
    usage: tuple[int, int, int] | None = None,
    model: str = "gemini-2.5-pro",
    **candidate: Any,
) -> dict[str, Any]:
    """One GenerateContentResponse; usage is (prompt, candidates, thoughts)."""
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0, **candidate}
    if finish:
        cand["finishReason"] = finish
    chunk: dict[str, Any] = {"candidates": [cand], "modelVersion": model, "responseId": "resp-1"}
    if usage:
        prompt, out, thoughts = usage
        chunk["usageMetadata"] = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": out,
            "thoughtsTokenCount": thoughts,
            "totalTokenCount": prompt + out + thoughts,
        }
    return chunk


def merge_chunks(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """What generateContent returns for the same answer: all parts in one candidate."""
    parts: list[dict[str, Any]] = []
    merged: dict[str, Any] = {}
    candidate: dict[str, Any] = {}
    for chunk in chunks:
        for key in ("modelVersion", "responseId", "usageMetadata", "promptFeedback", "error"):
            if key in chunk:
                merged[key] = chunk[key]
        for cand in chunk.get("candidates") or ():
            parts.extend((cand.get("content") or {}).get("parts") or ())
            candidate.update({k: v for k, v in cand.items() if k != "content"})
    if candidate or parts:
        merged["candidates"] = [{**candidate, "content": {"role": "model", "parts": parts}}]
    return merged


def gemini_error(code: int, message: str, status: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


class GeminiScript:
    """Queued replies plus the shared request handling (also used by the fake Vertex)."""

    def __init__(self) -> None:
        self.replies: deque[GeminiReply] = deque()
        self.requests: list[GeminiRequest] = []

    def queue(self, *replies: GeminiReply | list[dict[str, Any]]) -> None:
        for reply in replies:
            self.replies.append(reply if isinstance(reply, GeminiReply) else GeminiReply(chunks=reply))

    async def answer(self, request: web.Request, model_action: str) -> web.StreamResponse:
        model, _, action = model_action.partition(":")
        body = await request.json()
        self.requests.append(GeminiRequest(request.path, model, action, dict(request.query), dict(request.headers), body))
        reply = self.replies.popleft() if self.replies else GeminiReply(
            chunks=[part_chunk([{"text": "Hello from Gemini"}], "STOP", (3, 4, 0), model=model)]
        )
        if reply.body is not None or reply.status >= 400:
            return web.json_response(reply.body, status=reply.status)
        if action == "generateContent":
            return web.json_response(merge_chunks(reply.chunks))
        if action != "streamGenerateContent" or request.query.get("alt") != "sse":
            return web.json_response(gemini_error(400, f"unexpected action {action} {dict(request.query)}", "INVALID_ARGUMENT"), status=400)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for chunk in reply.chunks:
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n")
        await response.write_eof()
        return response


class FakeGemini(GeminiScript):
    def __init__(self, api_key: str = "gm-key") -> None:
        super().__init__()
        self.api_key = api_key

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1beta/models/{model_action}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("x-goog-api-key") != self.api_key:
            return web.json_response(gemini_error(400, "API key not valid.", "INVALID_ARGUMENT"), status=400)
        return await self.answer(request, request.match_info["model_action"])
