"""A fake OpenAI-compatible provider over real HTTP, scripted per test.

Tests queue replies (`fake.queue(stream_reply(...))`); each POST takes the next one (or the
default) and is recorded with its path, headers and JSON body so tests can assert on what the
provider received (`keys()` and `models()` say who was called with what). A hanging stream
records when the caller goes away.

Failures are programmable per call: a status with response headers (`error_reply(429,
headers={"retry-after": "2"})`), a connection closed before the headers (`disconnect`), a cut
after some chunks (`drop_after`, optionally only once the test says so: `drop_when`), and
`fake.choose`, a function of the recorded request, to answer by key or model. A connection
that is refused outright is `refused_url()`: a port bound but not listening.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    status: int = 200
    json_body: Any = None
    text_body: str | None = None
    chunks: list[Any] | None = None  # dicts become `data: <json>`, str/bytes are sent raw
    done: bool = True  # send `data: [DONE]`
    drop_after: int | None = None  # cut the connection after this many chunks
    drop_when: asyncio.Event | None = None  # ...once this is set (the client has seen them)
    hang_after: int | None = None  # stop sending and wait after this many chunks
    chunk_bytes: list[bytes] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # sent with the answer (retry-after...)
    disconnect: bool = False  # close the connection before sending any headers


def json_reply(body: Any, status: int = 200) -> Reply:
    return Reply(status=status, json_body=body)


def error_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status=status, json_body={"error": {"message": message, "type": "upstream_error"}},
                 headers=headers or {})


def stream_reply(chunks: list[Any], **kwargs: Any) -> Reply:
    return Reply(chunks=chunks, **kwargs)


def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None, model: str = "fake-model") -> dict:
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def usage_chunk(prompt: int, completion: int, cached: int = 0) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "model": "fake-model",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


def text_chunks(pieces: list[str], finish: str = "stop", usage: tuple[int, int] = (10, 5)) -> list[dict]:
    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": piece}) for piece in pieces]
    out.append(chunk({}, finish))
    out.append(usage_chunk(*usage))
    return out


def completion(content: str | None, tool_calls: list | None = None, finish: str = "stop", **extra: Any) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": content, **extra}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1,
        "model": "fake-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


def _encode(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    return b"data: " + json.dumps(item, separators=(",", ":")).encode() + b"\n\n"


def refused_url(path: str = "/v1/chat/completions") -> tuple[str, socket.socket]:
    """A URL whose connections are refused: its port is bound (so nothing else takes it) but
    not listening. Keep the socket open while the URL is in use."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return f"http://127.0.0.1:{sock.getsockname()[1]}{path}", sock


class FakeUpstream:
    def __init__(self, record: bool = True) -> None:
        self.record = record
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()
        self.default = stream_reply(text_chunks(["Hello", " from", " fake"]))
        # Answers a call before the queue does when it returns a Reply (by key, model, count).
        self.choose: Callable[[Recorded], Reply | None] | None = None
        self.cancelled = asyncio.Event()
        self.hanging = asyncio.Event()

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def keys(self) -> list[str]:
        """The bearer key of every call, in order."""
        return [r.headers.get("Authorization", "").removeprefix("Bearer ") for r in self.requests]

    def models(self) -> list[str]:
        return [r.body.get("model") if isinstance(r.body, dict) else None for r in self.requests]

    def app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("POST", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        recorded = Recorded(request.path, dict(request.query), dict(request.headers), body)
        if self.record:
            self.requests.append(recorded)
        reply = self.choose(recorded) if self.choose else None
        if reply is None:
            reply = self.replies.popleft() if self.replies else self.default
        wants_stream = isinstance(body, dict) and body.get("stream") is True
        if reply.disconnect:
            request.transport.close()  # no status line: the caller sees the server disconnect
            raise asyncio.CancelledError
        if reply.text_body is not None:
            return web.Response(status=reply.status, text=reply.text_body, headers=reply.headers)
        # A reply with both shapes answers in the shape the caller asked for.
        if reply.chunks is None or reply.status >= 400 or (not wants_stream and reply.json_body is not None):
            return web.json_response(reply.json_body, status=reply.status, headers=reply.headers)
        return await self._stream(request, reply)

    async def _stream(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                               **reply.headers})
        await response.prepare(request)
        payloads = reply.chunk_bytes or [_encode(c) for c in reply.chunks or []]
        for sent, payload in enumerate(payloads):
            if reply.drop_after is not None and sent == reply.drop_after:
                if reply.drop_when is not None:
                    await reply.drop_when.wait()
                request.transport.abort()  # a cut connection, not a clean end
                return response
            if reply.hang_after is not None and sent == reply.hang_after:
                await self._hang()
            await response.write(payload)
        if reply.hang_after is not None and reply.hang_after >= len(payloads):
            await self._hang()
        if reply.drop_after is not None:
            request.transport.abort()
            return response
        if reply.done:
            await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _hang(self) -> None:
        self.hanging.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
