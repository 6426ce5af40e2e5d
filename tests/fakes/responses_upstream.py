"""A fake OpenAI Responses API provider (`POST /v1/responses`) over real HTTP, scripted per test.

A reply is scripted as the final `response` object (`response_object(output=[...])`); the fake
answers a `stream: true` request with the event sequence the real API sends for it
(`stream_events`: created, in_progress, output_item.added, content deltas, output_item.done,
then completed / incomplete / failed), framed as `event: <type>` + `data: <json>`, and any other
request with the JSON object itself. Tests may also queue explicit event lists or raw bytes.
Every request is recorded with its path, headers and JSON body.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

MODEL = "gpt-5-test"


# -- output items and responses -------------------------------------------------------------


def reasoning_item(*summaries: str, item_id: str = "rs_1", encrypted: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text} for text in summaries],
    }
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def message_item(text: str, item_id: str = "msg_1", annotations: list[dict] | None = None) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": annotations or [], "logprobs": []}
    return {"id": item_id, "type": "message", "status": "completed", "role": "assistant", "content": [part]}


def function_call_item(call_id: str, name: str, arguments: str, item_id: str | None = None) -> dict[str, Any]:
    return {
        "id": item_id or f"fc_{call_id}",
        "type": "function_call",
        "status": "completed",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def usage(input_tokens: int, output_tokens: int, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output_tokens,
    }


def response_object(
    output: list[dict[str, Any]],
    usage_: dict[str, Any] | None = None,
    status: str = "completed",
    error: dict[str, Any] | None = None,
    incomplete_reason: str | None = None,
    response_id: str = "resp_1",
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": 1700000000,
        "status": status,
        "error": error,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "model": MODEL,
        "output": output,
        "parallel_tool_calls": False,
        "usage": usage_ if usage_ is not None else usage(10, 5),
    }


# -- the event sequence the API streams for a response --------------------------------------


def _pieces(text: str) -> list[str]:
    """Split like a model would: at least two deltas for anything longer than one character."""
    if len(text) < 2:
        return [text] if text else []
    middle = len(text) // 2
    return [text[:middle], text[middle:]]


def _item_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    kind, item_id = item["type"], item["id"]
    base = {"item_id": item_id, "output_index": index}
    if kind == "reasoning":
        events = [{"type": "response.output_item.added", "output_index": index, "item": {**item, "summary": [], "encrypted_content": None}}]
        for n, part in enumerate(item["summary"]):
            events.append({"type": "response.reasoning_summary_part.added", **base, "summary_index": n, "part": {"type": "summary_text", "text": ""}})
            for piece in _pieces(part["text"]):
                events.append({"type": "response.reasoning_summary_text.delta", **base, "summary_index": n, "delta": piece})
            events.append({"type": "response.reasoning_summary_text.done", **base, "summary_index": n, "text": part["text"]})
            events.append({"type": "response.reasoning_summary_part.done", **base, "summary_index": n, "part": part})
    elif kind == "message":
        events = [{"type": "response.output_item.added", "output_index": index, "item": {**item, "status": "in_progress", "content": []}}]
        for n, part in enumerate(item["content"]):
            events.append({"type": "response.content_part.added", **base, "content_index": n, "part": {**part, "text": "", "annotations": []}})
            for piece in _pieces(part["text"]):
                events.append({"type": "response.output_text.delta", **base, "content_index": n, "delta": piece, "logprobs": []})
            for a, annotation in enumerate(part.get("annotations") or []):
                events.append({"type": "response.output_text.annotation.added", **base, "content_index": n, "annotation_index": a, "annotation": annotation})
            events.append({"type": "response.output_text.done", **base, "content_index": n, "text": part["text"], "logprobs": []})
            events.append({"type": "response.content_part.done", **base, "content_index": n, "part": part})
    elif kind == "function_call":
        events = [{"type": "response.output_item.added", "output_index": index, "item": {**item, "status": "in_progress", "arguments": ""}}]
        for piece in _pieces(item["arguments"]):
            events.append({"type": "response.function_call_arguments.delta", **base, "delta": piece})
        events.append({"type": "response.function_call_arguments.done", **base, "arguments": item["arguments"]})
    else:
        events = [{"type": "response.output_item.added", "output_index": index, "item": item}]
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def stream_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The events the Responses API streams for `response`, with sequence numbers."""
    pending = {**response, "status": "in_progress", "output": [], "usage": None, "error": None, "incomplete_details": None}
    events = [{"type": "response.created", "response": pending}, {"type": "response.in_progress", "response": pending}]
    for index, item in enumerate(response["output"]):
        events.extend(_item_events(index, item))
    status = response.get("status") or "completed"
    terminal = {"completed": "response.completed", "failed": "response.failed", "incomplete": "response.incomplete"}[status]
    events.append({"type": terminal, "response": response})
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]


def frame(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


# -- the server -----------------------------------------------------------------------------


@dataclass
class ResponsesReply:
    response: dict[str, Any] | None = None  # streamed as events or sent as JSON, as the caller asks
    events: list[Any] | None = None  # explicit events (dicts are framed, bytes sent raw)
    status: int = 200
    error_body: Any = None  # an HTTP error answer


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


def reply(output: list[dict[str, Any]], **kwargs: Any) -> ResponsesReply:
    return ResponsesReply(response=response_object(output, **kwargs))


class ResponsesUpstream:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.replies: deque[ResponsesReply] = deque()
        self.url = ""

    def queue(self, *replies: ResponsesReply) -> None:
        self.replies.extend(replies)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/responses", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Recorded(request.path, dict(request.headers), body))
        scripted = self.replies.popleft() if self.replies else reply([message_item("Hello from responses")])
        if scripted.error_body is not None or scripted.status >= 400:
            return web.json_response(scripted.error_body, status=scripted.status)
        if body.get("stream") is not True and scripted.response is not None:
            return web.json_response(scripted.response)
        events = scripted.events if scripted.events is not None else stream_events(scripted.response or {})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        for event in events:
            await response.write(event if isinstance(event, bytes) else frame(event))
        await response.write_eof()
        return response
